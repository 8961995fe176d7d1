#include "tiny_engine_suite.h"

#include <fstream>
#include <sstream>

#include "reference_paths.h"

namespace farm::sd::testing {

TinyModelFiles* TinyEngineSuite::files_ = nullptr;
Engine* TinyEngineSuite::engine_ = nullptr;

void TinyEngineSuite::LoadTinyEngine(const std::string& name, uint64_t seed) {
  auto files = MakeTinyModel(ScratchDir() + "/" + name, seed);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  files_ = new TinyModelFiles(*files);
  EngineOptions options;
  options.checkpoint = files_->checkpoint;
  options.threads = 1;
  auto engine = Engine::Load(options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  engine_ = engine->release();
}

void TinyEngineSuite::TearDownTestSuite() {
  delete engine_;
  delete files_;
  engine_ = nullptr;
  files_ = nullptr;
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace farm::sd::testing
