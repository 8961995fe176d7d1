// farm-agent's one-shot engine commands, run as a user runs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "reference_paths.h"
#include "shell_run.h"

namespace {
namespace fs = std::filesystem;
using farmctl_test::Shell;

const std::string kAgent = FARM_AGENT_BINARY;

class AgentEngineCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(farm::sd::testing::ScratchDir() + "/cli");
    auto made = Shell(kAgent + " make-tiny-model " + *dir_ + "/model --seed 3 --json");
    ASSERT_EQ(made.exit_code, 0) << made.out;
    auto record = nlohmann::json::parse(made.out);
    checkpoint_ = new std::string(record["checkpoint"].get<std::string>());
    controlnet_ = new std::string(record["controlnet"].get<std::string>());
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete checkpoint_;
    delete controlnet_;
  }
  static std::string* dir_;
  static std::string* checkpoint_;
  static std::string* controlnet_;
};
std::string* AgentEngineCliTest::dir_ = nullptr;
std::string* AgentEngineCliTest::checkpoint_ = nullptr;
std::string* AgentEngineCliTest::controlnet_ = nullptr;

TEST_F(AgentEngineCliTest, RenderWritesPngAndItsParametersReproducibly) {
  const std::string base = kAgent + " render --checkpoint " + *checkpoint_ +
                           " --prompt 'studio portrait, (warm light:1.2)' --negative blurry"
                           " --sampler 'DPM++ 2M Karras' --steps 3 --cfg 6.5 --clip-skip 2 --seed 11"
                           " --size 64x48 --threads 1 --json -o ";
  auto first = Shell(base + *dir_ + "/a.png");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  auto second = Shell(base + *dir_ + "/b.png");
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_EQ(farmctl_test::FileBytes(*dir_ + "/a.png"), farmctl_test::FileBytes(*dir_ + "/b.png"));
  EXPECT_EQ(farmctl_test::FileBytes(*dir_ + "/a.png").substr(1, 3), "PNG");

  auto record = nlohmann::json::parse(farmctl_test::FileBytes(*dir_ + "/a.png.json"));
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

TEST_F(AgentEngineCliTest, RenderWithControlNetRecordsTheUnits) {
  ASSERT_TRUE(fs::is_regular_file(*controlnet_));
  const std::string base = kAgent + " render --checkpoint " + *checkpoint_ +
                           " --prompt portrait --steps 3 --seed 5 --size 64x48 --threads 1 ";
  auto hint = Shell(base + "-o " + *dir_ + "/hint.png");
  ASSERT_EQ(hint.exit_code, 0) << hint.out;
  auto plain = Shell(base + "-o " + *dir_ + "/plain.png");
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  // Two units; the second with a scale and a guidance window. The hint is resized to --size.
  auto controlled = Shell(base + "--controlnet " + *controlnet_ + ":" + *dir_ + "/hint.png --controlnet " +
                          *controlnet_ + ":" + *dir_ + "/hint.png:0.5:0.25:0.75 -o " + *dir_ + "/cn.png");
  ASSERT_EQ(controlled.exit_code, 0) << controlled.out;
  EXPECT_NE(farmctl_test::FileBytes(*dir_ + "/cn.png"), farmctl_test::FileBytes(*dir_ + "/plain.png"));

  auto record = nlohmann::json::parse(farmctl_test::FileBytes(*dir_ + "/cn.png.json"));
  ASSERT_EQ(record["controlnets"].size(), 2u);
  EXPECT_EQ(record["controlnets"][0]["model"], *controlnet_);
  EXPECT_EQ(record["controlnets"][0]["input"], *dir_ + "/hint.png");
  EXPECT_EQ(record["controlnets"][0]["weight"], 1.0);
  EXPECT_EQ(record["controlnets"][1]["weight"], 0.5);
  EXPECT_EQ(record["controlnets"][1]["start"], 0.25);
  EXPECT_EQ(record["controlnets"][1]["end"], 0.75);
  EXPECT_TRUE(nlohmann::json::parse(farmctl_test::FileBytes(*dir_ + "/plain.png.json"))["controlnets"].empty());

  auto usage = Shell(base + "--controlnet " + *controlnet_ + " 2>&1");
  EXPECT_EQ(usage.exit_code, 2) << usage.out;
  EXPECT_NE(usage.out.find("MODEL:HINT_IMAGE"), std::string::npos) << usage.out;
  auto no_hint = Shell(base + "--controlnet " + *controlnet_ + ":" + *dir_ + "/absent.png 2>&1");
  EXPECT_NE(no_hint.exit_code, 0);
  EXPECT_NE(no_hint.out.find("absent.png"), std::string::npos) << no_hint.out;
  auto window = Shell(base + "--controlnet " + *controlnet_ + ":" + *dir_ + "/hint.png:1:0.8:0.2 2>&1");
  EXPECT_EQ(window.exit_code, 2) << window.out;
  EXPECT_NE(window.out.find("start"), std::string::npos) << window.out;
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

// The same command on a LoRA training-step reference folder (told apart by its files).
TEST(AgentCheckReferenceCliTest, PassesOnTheTrainingReference) {
  FARM_SD_REQUIRE_TRAIN_REFERENCE(dir);
  auto run = Shell(kAgent + " check-reference " + dir + " --json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const nlohmann::json report = nlohmann::json::parse(run.out);
  EXPECT_TRUE(report["passed"].get<bool>());
  bool saw_gradients = false;
  for (const auto& row : report["rows"]) saw_gradients |= row["tensor"].get<std::string>().rfind("grad/", 0) == 0;
  EXPECT_TRUE(saw_gradients) << run.out;
}

}  // namespace
