#include "tiny_farm_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "faceid_paths.h"
#include "shell_run.h"

namespace farmctl_test {
namespace fs = std::filesystem;

std::optional<TinyFarmDir> MakeTinyFarmDir(const std::string& agent, const std::string& prefix,
                                           const std::string& demo_photo, std::string* skip) {
  auto face_models = farm::faceid::testing::FindFaceModelDir();
  auto demo = farm::faceid::testing::FindFaceDemoDir();
  if (!face_models || !demo || !fs::exists(*demo + "/" + demo_photo)) {
    *skip = "face-api models or demo photos not found (run tools/setup.sh)";
    return std::nullopt;
  }
  std::string pattern = ::testing::TempDir() + prefix + "_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern;
    return std::nullopt;
  }
  TinyFarmDir f;
  f.dir = pattern;
  f.models = f.dir + "/models";
  f.db = f.dir + "/state/farm.db";
  fs::create_directories(f.models);
  fs::create_directory_symlink(fs::path(*face_models).parent_path(), f.models + "/face-api");
  const CliRun made = Shell(agent + " make-tiny-model " + Quote(f.models + "/tiny") + " --seed 1 --json");
  if (made.exit_code != 0) {
    ADD_FAILURE() << made.out;
    return std::nullopt;
  }
  f.tiny_files = ParseOrFail(made);
  return f;
}

}  // namespace farmctl_test
