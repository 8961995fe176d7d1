// farm-agent's one-shot engine commands, run as a user runs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "reference_paths.h"
#include "shell_run.h"

namespace {
namespace fs = std::filesystem;
using farmctl_test::Shell;

const std::string kAgent = FARM_AGENT_BINARY;

std::string Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class AgentEngineCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(farm::sd::testing::ScratchDir() + "/cli");
    auto made = Shell(kAgent + " make-tiny-model " + *dir_ + "/model --seed 3 --json");
    ASSERT_EQ(made.exit_code, 0) << made.out;
    auto record = nlohmann::json::parse(made.out);
    checkpoint_ = new std::string(record["checkpoint"].get<std::string>());
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete checkpoint_;
  }
  static std::string* dir_;
  static std::string* checkpoint_;
};
std::string* AgentEngineCliTest::dir_ = nullptr;
std::string* AgentEngineCliTest::checkpoint_ = nullptr;

TEST_F(AgentEngineCliTest, RenderWritesPngAndItsParametersReproducibly) {
  const std::string base = kAgent + " render --checkpoint " + *checkpoint_ +
                           " --prompt 'studio portrait, (warm light:1.2)' --negative blurry"
                           " --sampler 'DPM++ 2M Karras' --steps 3 --cfg 6.5 --clip-skip 2 --seed 11"
                           " --size 64x48 --threads 1 --json -o ";
  auto first = Shell(base + *dir_ + "/a.png");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  auto second = Shell(base + *dir_ + "/b.png");
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_EQ(Bytes(*dir_ + "/a.png"), Bytes(*dir_ + "/b.png"));
  EXPECT_EQ(Bytes(*dir_ + "/a.png").substr(1, 3), "PNG");

  auto record = nlohmann::json::parse(Bytes(*dir_ + "/a.png.json"));
  EXPECT_EQ(record["seed"], 11);
  EXPECT_EQ(record["sampler"], "DPM++ 2M Karras");
  EXPECT_EQ(record["clip_skip"], 2);
  EXPECT_EQ(record["threads"], 1);
  EXPECT_EQ(record["width"], 64);

  auto img2img = Shell(kAgent + " render --checkpoint " + *checkpoint_ + " --prompt face --steps 4 --size 64x48"
                       " --init-image " + *dir_ + "/a.png --strength 0.5 -o " + *dir_ + "/c.png");
  EXPECT_EQ(img2img.exit_code, 0) << img2img.out;
  EXPECT_TRUE(fs::exists(*dir_ + "/c.png"));
}

TEST_F(AgentEngineCliTest, BadInputIsAClearError) {
  auto size = Shell(kAgent + " render --checkpoint " + *checkpoint_ + " --size 64by48 2>&1");
  EXPECT_EQ(size.exit_code, 2);
  EXPECT_NE(size.out.find("WIDTHxHEIGHT"), std::string::npos) << size.out;
  auto sampler = Shell(kAgent + " render --checkpoint " + *checkpoint_ + " --size 64x48 --sampler 'Euler b' 2>&1");
  EXPECT_NE(sampler.exit_code, 0);
  EXPECT_NE(sampler.out.find("Euler b"), std::string::npos) << sampler.out;
  auto pickle = Shell("touch " + *dir_ + "/model.ckpt && " + kAgent + " render --checkpoint " + *dir_ +
                      "/model.ckpt 2>&1");
  EXPECT_NE(pickle.exit_code, 0);
  EXPECT_NE(pickle.out.find("pickle"), std::string::npos) << pickle.out;
  auto serve = Shell(kAgent + " 2>&1");
  EXPECT_EQ(serve.exit_code, 2);
  EXPECT_NE(serve.out.find("--connect"), std::string::npos) << serve.out;
}

TEST(AgentCheckReferenceCliTest, PassesOnTheSharedReference) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  auto run = Shell(kAgent + " check-reference " + dir);
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("unet_eps"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(" 0 failed"), std::string::npos) << run.out;
  auto strict = Shell(kAgent + " check-reference " + dir + " --tolerance 1e-12 --json");
  EXPECT_EQ(strict.exit_code, 1) << strict.out;
  EXPECT_FALSE(nlohmann::json::parse(strict.out)["passed"].get<bool>());
}

}  // namespace
