// The pose library files and the loader's refusals.
#include "farm/image/pose.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace farm::image {
namespace {

std::string LibraryDir() {
  const char* root = std::getenv("FARM_SOURCE_DIR");
  return std::string(root ? root : ".") + "/experiments/poses";
}

// A valid one-person document with the body list replaced by `body`.
std::string Doc(const std::string& body, const std::string& extra = "") {
  return R"({"canvas_width": 100, "canvas_height": 200, "people": [{"pose_keypoints_2d": )" +
         body + extra + "}]}";
}

std::string Body(int count = 54) {
  std::string out = "[";
  for (int i = 0; i < count; ++i) out += (i ? "," : "") + std::string(i % 3 == 2 ? "1" : "10");
  return out + "]";
}

std::string ErrorOf(const std::string& json) {
  StatusOr<Pose> pose = ParsePoseJson(json, "x.json");
  EXPECT_FALSE(pose.ok()) << json;
  return pose.ok() ? "" : pose.status().message();
}

TEST(PoseLibraryTest, HasTheReliableFourAndEveryGridPose) {
  StatusOr<std::vector<std::string>> names = ListPoses(LibraryDir());
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  // experiments/poses.yaml's grid.
  for (const char* name : {"standing", "three_quarter", "seated", "head_and_shoulders", "profile",
                           "over_the_shoulder", "arms_crossed", "hands_on_hips", "leaning",
                           "walking"}) {
    StatusOr<Pose> pose = LoadPose(LibraryDir(), name);
    ASSERT_TRUE(pose.ok()) << pose.status().ToString();
    EXPECT_EQ(pose->name, name);
    EXPECT_EQ(pose->canvas_width, 512);
    EXPECT_EQ(pose->canvas_height, 768);
    ASSERT_EQ(pose->people.size(), 1u);
    EXPECT_EQ(pose->people[0].body.size(), static_cast<size_t>(kBodyKeypoints));
    EXPECT_TRUE(pose->people[0].body[1].visible()) << name << ": the neck anchors every limb";
  }
  EXPECT_GE(names->size(), 10u);
}

TEST(PoseLoaderTest, ReadsOpenPoseDocuments) {
  std::string hand = "[";
  for (int i = 0; i < 63; ++i) hand += (i ? "," : "") + std::string(i % 3 == 2 ? "0.5" : "20");
  hand += "]";
  StatusOr<Pose> pose = ParsePoseJson(
      Doc(Body(), R"(, "hand_left_keypoints_2d": )" + hand +
                      R"(, "hand_right_keypoints_2d": [], "face_keypoints_2d": [], "person_id": [-1])"),
      "x.json");
  ASSERT_TRUE(pose.ok()) << pose.status().ToString();
  EXPECT_EQ(pose->people[0].hand_left.size(), 21u);
  EXPECT_FLOAT_EQ(pose->people[0].hand_left[3].confidence, 0.5f);
  EXPECT_TRUE(pose->people[0].hand_right.empty());
  EXPECT_TRUE(pose->people[0].face.empty());
  EXPECT_FLOAT_EQ(pose->people[0].body[0].x, 10);
  // Invisible points (0, 0, 0) are allowed anywhere.
  EXPECT_TRUE(ParsePoseJson(Doc("[0,0,0" + Body(51).replace(0, 1, ",")), "x.json").ok());
}

TEST(PoseLoaderTest, RefusesBadDocumentsWithClearMessages) {
  EXPECT_NE(ErrorOf("{\"canvas_width\": 1,\n  oops}").find("x.json:2:3: JSON syntax error"),
            std::string::npos)
      << ErrorOf("{\"canvas_width\": 1,\n  oops}");
  EXPECT_NE(ErrorOf("[1, 2]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"canvas_height": 10, "people": []})").find("canvas_width: missing"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"canvas_width": 0, "canvas_height": 10, "people": []})")
                .find("canvas_width: expected an integer in 1..16384, got 0"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"canvas_width": 10, "canvas_height": 10, "people": []})")
                .find("people: expected a non-empty array"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Doc(Body(51)))
                .find("x.json: people[0].pose_keypoints_2d: expected 54 numbers (18 keypoints as "
                      "x, y, confidence), got 51"),
            std::string::npos)
      << ErrorOf(Doc(Body(51)));
  EXPECT_NE(ErrorOf(Doc("\"nope\"")).find("expected an array"), std::string::npos);
  EXPECT_NE(ErrorOf(Doc("[\"a\"" + Body(53).replace(0, 1, ",")))
                .find("pose_keypoints_2d[0]: expected a finite number, got \"a\""),
            std::string::npos);
  EXPECT_NE(ErrorOf(Doc("[500,10,1" + Body(51).replace(0, 1, ",")))
                .find("keypoint 0 (nose) at (500, 10) lies outside the 100x200 canvas"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Doc("[10,10,2" + Body(51).replace(0, 1, ",")))
                .find("confidence 2 is outside [0, 1]"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Doc(Body(), R"(, "hand_left_keypoints_2d": [1, 2, 3])"))
                .find("hand_left_keypoints_2d: expected 63 numbers (21 keypoints as x, y, "
                      "confidence) or an empty array, got 3"),
            std::string::npos);
  std::string zeros = "[";
  for (int i = 0; i < 54; ++i) zeros += (i ? ",0" : "0");
  EXPECT_NE(ErrorOf(Doc(zeros + "]")).find("no visible keypoint"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"canvas_width": 10, "canvas_height": 10, "people": [3]})")
                .find("people[0]: expected an object"),
            std::string::npos);
}

TEST(PoseLoaderTest, RefusesBadNamesAndMissingFiles) {
  EXPECT_EQ(LoadPose(LibraryDir(), "../poses/standing").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadPose(LibraryDir(), "").status().code(), StatusCode::kInvalidArgument);
  StatusOr<Pose> missing = LoadPose(LibraryDir(), "handstand");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("the library has: arms_crossed"), std::string::npos)
      << missing.status().message();
  EXPECT_EQ(LoadPoseFile("/nonexistent/x.json").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ListPoses("/nonexistent").status().code(), StatusCode::kNotFound);

  const std::string path = ::testing::TempDir() + "/image_bad_pose.json";
  std::ofstream(path) << "{\"canvas_width\": 512";
  StatusOr<Pose> truncated = LoadPoseFile(path);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find(path + ":1:"), std::string::npos)
      << truncated.status().message();
}

TEST(PoseLoaderTest, NamesKeypoints) {
  EXPECT_STREQ(BodyKeypointName(0), "nose");
  EXPECT_STREQ(BodyKeypointName(17), "left_ear");
  EXPECT_STREQ(BodyKeypointName(18), "?");
}

}  // namespace
}  // namespace farm::image
