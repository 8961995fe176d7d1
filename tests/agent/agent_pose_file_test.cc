// The pose-library file of `farm-agent pose extract --out` (agent/pose_file.h): what the
// library's reader would refuse (points off the canvas, people without a body point) is
// left out and noted; existing files are kept without --force.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "farm/image/pose.h"
#include "pose_file.h"

namespace farm::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

pose::OpenPoseDocument TwoPeople() {
  pose::OpenPoseDocument document;
  document.canvas_width = 100;
  document.canvas_height = 50;
  pose::OpenPosePerson inside;
  inside.body.assign(18, {});
  inside.body[0] = {10, 20, 0.9};
  inside.body[1] = {120, 20, 0.8};  // right of the canvas: MoveNet put it in the padding
  inside.hand_left.assign(21, {50, 25, 0.7});
  inside.hand_left[3] = {50, -4, 0.7};
  pose::OpenPosePerson outside;
  outside.body.assign(18, {});
  outside.body[0] = {10, 60, 0.9};  // below the canvas
  document.people = {inside, outside};
  return document;
}

TEST(PoseFile, PointsOffTheCanvasBecomeInvisibleAndEmptyPeopleAreLeftOut) {
  auto text = PoseLibraryJson(TwoPeople(), {0, 1}, "test");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  const json doc = json::parse(text->json);
  ASSERT_EQ(doc["people"].size(), 1u);
  EXPECT_EQ(doc["people"][0]["pose_keypoints_2d"][3], 0);  // point 1 written as 0, 0, 0
  EXPECT_EQ(doc["people"][0]["pose_keypoints_2d"][5], 0);
  EXPECT_EQ(doc["people"][0]["pose_keypoints_2d"][0], 10);
  EXPECT_EQ(doc["people"][0]["hand_left_keypoints_2d"][11], 0);
  EXPECT_EQ(doc["description"], "test");
  ASSERT_EQ(text->notes.size(), 2u);
  EXPECT_NE(text->notes[0].find("2 point(s) outside"), std::string::npos) << text->notes[0];
  EXPECT_NE(text->notes[1].find("person 1 left out"), std::string::npos) << text->notes[1];
  EXPECT_TRUE(image::ParsePoseJson(text->json, "x").ok());
}

TEST(PoseFile, NobodyOnTheCanvasOrAMissingPersonIsAnError) {
  auto none = PoseLibraryJson(TwoPeople(), {1}, "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no person"), std::string::npos) << none.status().ToString();
  auto missing = PoseLibraryJson(TwoPeople(), {5}, "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("person 5"), std::string::npos) << missing.status().ToString();
}

TEST(PoseFile, WritesThePoseAndPreviewButNeverOverwritesWithoutForce) {
  std::string pattern = ::testing::TempDir() + "pose_file_XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::string dir = pattern;
  auto text = PoseLibraryJson(TwoPeople(), {0}, "first");
  ASSERT_TRUE(text.ok());
  const std::string pose_path = dir + "/lib/p.json", preview = dir + "/lib/p.png";
  ASSERT_TRUE(WritePoseFiles(text->json, pose_path, preview, false).ok());
  auto loaded = image::LoadPose(dir + "/lib", "p");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->canvas_width, 100);
  EXPECT_GT(fs::file_size(preview), 8u);

  auto second = PoseLibraryJson(TwoPeople(), {0}, "second");
  Status refused = WritePoseFiles(second->json, pose_path, preview, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("--force"), std::string::npos) << refused.ToString();
  std::ifstream in(pose_path);
  std::stringstream kept;
  kept << in.rdbuf();
  EXPECT_EQ(json::parse(kept.str())["description"], "first");
  EXPECT_TRUE(WritePoseFiles(second->json, pose_path, preview, true).ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace farm::agent
