// Training-data preparation from the command line, as a user runs it: `farm-agent prepare`
// on photos cut from the face-api demo photos and a plain image, then `farmctl identity
// add` + `farmctl identity prepare`, which must reach the same content-addressed dataset.
// Skips without the face-api models and demo photos ($STUDIOFARM_MODELS/face-api).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "faceid_paths.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::ParseOrFail;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
const std::string kAgent = FARM_AGENT_PATH;

class IdentityPrepareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto models = farm::faceid::testing::FindFaceModelDir();
    auto demo = farm::faceid::testing::FindFaceDemoDir();
    if (!models || !demo || !fs::exists(*demo + "/sample1.jpg")) {
      GTEST_SKIP() << "face-api models or demo photos not found (set STUDIOFARM_MODELS)";
    }
    models_ = *models;
    std::string pattern = ::testing::TempDir() + "identity_prepare_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    // One person: sample1's face 0 (box about x 414, y 355, 178x240; face 1 starts at x 838).
    const cv::Mat photo = cv::imread(*demo + "/sample1.jpg", cv::IMREAD_COLOR);
    ASSERT_FALSE(photo.empty());
    ASSERT_TRUE(cv::imwrite(dir_ + "/wide.png", photo(cv::Rect(0, 0, 830, 1280))));
    ASSERT_TRUE(cv::imwrite(dir_ + "/tight.png", photo(cv::Rect(300, 230, 400, 490))));
    ASSERT_TRUE(cv::imwrite(dir_ + "/plain.png", cv::Mat(96, 96, CV_8UC3, cv::Scalar(128, 128, 128))));
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }
  std::string Photo(const std::string& name) const { return Quote(dir_ + "/" + name); }
  farmctl_test::CliRun Agent(const std::string& args) const {
    return Shell(kAgent + " prepare --face-models " + Quote(models_) + " " + args + " 2>/dev/null");
  }
  farmctl_test::CliRun Farmctl(const std::string& args) const {
    return Shell(kFarmctl + " --db " + Quote(dir_ + "/farm.db") + " --models-dir " + Quote(models_) + " " + args);
  }

  std::string models_, dir_;
};

TEST_F(IdentityPrepareTest, AgentPreparesReportsTheSkippedPhotoAndCachesLatents) {
  auto tiny = Shell(kAgent + " make-tiny-model " + Quote(dir_ + "/tiny") + " 2>&1");
  ASSERT_EQ(tiny.exit_code, 0) << tiny.out;
  const std::string checkpoint = dir_ + "/tiny/tiny-sd15.safetensors";
  ASSERT_TRUE(fs::exists(checkpoint)) << tiny.out;
  auto run = Agent("--identity ana --token 'ohwx woman' --out " + Quote(dir_ + "/ds") +
                   " --resolution 64 --flip --checkpoint " + Quote(checkpoint) + " --json --photos " +
                   Photo("wide.png") + " " + Photo("plain.png") + " " + Photo("tight.png"));
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json out = ParseOrFail(run);
  EXPECT_TRUE(out["ok"].get<bool>());
  EXPECT_FALSE(out["reused"].get<bool>());
  const std::string id = out["dataset_id"];
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(out["folder"], dir_ + "/ds/" + id);
  ASSERT_EQ(out["images"].size(), 2u);
  EXPECT_EQ(out["images"][0]["caption"], "a photo of ohwx woman");
  ASSERT_EQ(out["skipped"].size(), 1u);
  EXPECT_EQ(out["skipped"][0]["source_name"], "plain.png");
  EXPECT_EQ(out["skipped"][0]["reason"], "no face found");
  EXPECT_FALSE(out["warnings"].empty());
  EXPECT_TRUE(fs::exists(out["manifest"].get<std::string>()));
  ASSERT_TRUE(out["latents"].is_object());
  EXPECT_EQ(out["latents"]["kind"], "posterior_mean");
  EXPECT_EQ(out["latents"]["count"], 4);
  EXPECT_EQ(out["latents"]["shape"], json::array({4, 8, 8}));
  EXPECT_TRUE(fs::exists(out["latents"]["file"].get<std::string>()));

  // Again, photos in another order: the same dataset and latents, found.
  auto again = Agent("--identity ana --token 'ohwx woman' --out " + Quote(dir_ + "/ds") +
                     " --resolution 64 --flip --checkpoint " + Quote(checkpoint) + " --json --photos " +
                     Photo("tight.png") + " " + Photo("wide.png") + " " + Photo("plain.png"));
  ASSERT_EQ(again.exit_code, 0) << again.out;
  const json second = ParseOrFail(again);
  EXPECT_EQ(second["dataset_id"], id);
  EXPECT_TRUE(second["reused"].get<bool>());
  EXPECT_TRUE(second["latents"]["reused"].get<bool>());
}

TEST_F(IdentityPrepareTest, AgentErrorsNameTheCause) {
  auto none = Agent("--identity ana --out " + Quote(dir_ + "/ds") + " --json --photos " + Photo("plain.png"));
  EXPECT_EQ(none.exit_code, 1);
  const json out = ParseOrFail(none);
  EXPECT_FALSE(out["ok"].get<bool>());
  EXPECT_NE(out["error"]["message"].get<std::string>().find("plain.png: no face found"), std::string::npos) << out;
  auto missing = Agent("--identity ana --out " + Quote(dir_ + "/ds") + " --photos " + Photo("gone.png"));
  EXPECT_EQ(missing.exit_code, 1);
  // --flip only means something for the latent cache.
  EXPECT_EQ(Agent("--identity ana --out x --flip --photos " + Photo("wide.png")).exit_code, 2);
  EXPECT_EQ(Agent("--identity ana --out x --ratio 0.5 --photos " + Photo("wide.png")).exit_code, 2);
}

TEST_F(IdentityPrepareTest, FarmctlPreparesTheRecordedPhotosWithTheIdentitysToken) {
  auto added = Farmctl("identity add ana " + Photo("wide.png") + " " + Photo("tight.png") + " --token 'ohwx woman'");
  ASSERT_EQ(added.exit_code, 0) << added.out;
  auto run = Farmctl("identity prepare ana --resolution 64 --json --out " + Quote(dir_ + "/datasets") +
                     " --agent " + Quote(kAgent));
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json out = ParseOrFail(run);
  ASSERT_TRUE(out["ok"].get<bool>()) << out;
  ASSERT_EQ(out["images"].size(), 2u);
  EXPECT_EQ(out["images"][1]["caption"], "a photo of ohwx woman");
  // The same photos, token and settings through farm-agent directly: the same dataset.
  auto direct = Agent("--identity ana --token 'ohwx woman' --out " + Quote(dir_ + "/datasets") +
                      " --resolution 64 --json --photos " + Photo("wide.png") + " " + Photo("tight.png"));
  ASSERT_EQ(direct.exit_code, 0) << direct.out;
  EXPECT_EQ(ParseOrFail(direct)["dataset_id"], out["dataset_id"]);
  EXPECT_TRUE(ParseOrFail(direct)["reused"].get<bool>());

  // The default folder is 'datasets' next to the database; a human-readable summary.
  auto plain = Farmctl("identity prepare ana --resolution 64 --ratio 2 --agent " + Quote(kAgent));
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.out.find(dir_ + "/datasets/"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("images    2 at 64 px"), std::string::npos) << plain.out;

  // A photo changed since `identity add` is named, not silently prepared.
  ASSERT_TRUE(cv::imwrite(dir_ + "/tight.png", cv::Mat(64, 64, CV_8UC3, cv::Scalar(1, 2, 3))));
  auto changed = Farmctl("identity prepare ana --resolution 64 --json --agent " + Quote(kAgent));
  EXPECT_EQ(changed.exit_code, 1);
  const std::string why = ParseOrFail(changed)["error"]["message"];
  EXPECT_NE(why.find("tight.png changed since"), std::string::npos) << why;
  auto unknown = Farmctl("identity prepare nobody --json");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(ParseOrFail(unknown)["error"]["message"].get<std::string>().find("nobody"), std::string::npos);
}

}  // namespace
