// Control maps: the annotator's colours on limbs and joints, letterboxing, the library.
#include "farm/image/pose_render.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace farm::image {
namespace {

std::array<uint8_t, 3> PixelAt(const Image& image, int x, int y) {
  const uint8_t* p = image.at(x, y);
  return {p[0], p[1], p[2]};
}

// One person on a canvas with only the keypoints given visible.
Pose MakePose(int w, int h, const std::vector<std::pair<int, std::pair<float, float>>>& points) {
  Pose pose;
  pose.canvas_width = w;
  pose.canvas_height = h;
  PosePerson person;
  person.body.assign(kBodyKeypoints, Keypoint{});
  for (const auto& [index, xy] : points) person.body[index] = Keypoint{xy.first, xy.second, 1};
  pose.people.push_back(person);
  return pose;
}

TEST(PoseRenderTest, AnnotatorColourTables) {
  EXPECT_EQ(BodyLimb(0), (std::pair<int, int>{1, 2}));    // neck - right shoulder
  EXPECT_EQ(BodyLimb(12), (std::pair<int, int>{1, 0}));   // neck - nose
  EXPECT_EQ(BodyLimb(16), (std::pair<int, int>{15, 17}));  // left eye - left ear
  EXPECT_EQ(BodyColor(0), (std::array<uint8_t, 3>{255, 0, 0}));
  EXPECT_EQ(BodyColor(17), (std::array<uint8_t, 3>{255, 0, 85}));
  EXPECT_EQ(BodyLimbColor(0), (std::array<uint8_t, 3>{153, 0, 0}));
  EXPECT_EQ(BodyLimbColor(1), (std::array<uint8_t, 3>{153, 51, 0}));
  EXPECT_EQ(BodyLimbColor(2), (std::array<uint8_t, 3>{153, 102, 0}));
}

TEST(PoseRenderTest, LimbsAndJointsHaveTheAnnotatorColours) {
  // Neck (1) at the centre, right shoulder (2) to the left, left shoulder (5) to the
  // right, nose (0) above; 1:1 canvas and output, so no letterbox.
  const Pose pose = MakePose(200, 200, {{1, {100, 100}}, {2, {40, 100}}, {5, {160, 100}},
                                        {0, {100, 40}}});
  StatusOr<PoseMap> map = RenderPoseMap(pose, 200, 200);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  const Image& img = map->image;
  EXPECT_EQ(PixelAt(img, 70, 100), BodyLimbColor(0));    // neck - right shoulder
  EXPECT_EQ(PixelAt(img, 130, 100), BodyLimbColor(1));   // neck - left shoulder
  EXPECT_EQ(PixelAt(img, 100, 70), BodyLimbColor(12));   // neck - nose
  EXPECT_EQ(PixelAt(img, 70, 103), BodyLimbColor(0));    // inside the stick width (4)
  EXPECT_EQ(PixelAt(img, 70, 106), (std::array<uint8_t, 3>{0, 0, 0}));  // outside it
  EXPECT_EQ(PixelAt(img, 40, 100), BodyColor(2));        // joints in full colour
  EXPECT_EQ(PixelAt(img, 160, 100), BodyColor(5));
  EXPECT_EQ(PixelAt(img, 100, 100), BodyColor(1));
  EXPECT_EQ(PixelAt(img, 100, 43), BodyColor(0));        // radius 4
  EXPECT_EQ(PixelAt(img, 5, 5), (std::array<uint8_t, 3>{0, 0, 0}));
  // A limb with an invisible end is not drawn.
  EXPECT_EQ(PixelAt(img, 100, 140), (std::array<uint8_t, 3>{0, 0, 0}));
}

TEST(PoseRenderTest, LetterboxOfASquareCanvasInto512x768) {
  StatusOr<Letterbox> box = ComputeLetterbox(1024, 1024, 512, 768);
  ASSERT_TRUE(box.ok());
  EXPECT_DOUBLE_EQ(box->scale, 0.5);
  EXPECT_DOUBLE_EQ(box->offset_x, 0);
  EXPECT_DOUBLE_EQ(box->offset_y, 128);
  EXPECT_EQ(box->content, (Rect{0, 128, 512, 512}));
  // Wider than the output: bars left and right.
  box = ComputeLetterbox(768, 512, 512, 768);
  ASSERT_TRUE(box.ok());
  EXPECT_DOUBLE_EQ(box->scale, 512.0 / 768.0);
  EXPECT_DOUBLE_EQ(box->offset_x, 0);
  EXPECT_DOUBLE_EQ(box->offset_y, (768 - 512 * 512.0 / 768.0) / 2);
  // Same aspect: no bars.
  box = ComputeLetterbox(256, 384, 512, 768);
  ASSERT_TRUE(box.ok());
  EXPECT_DOUBLE_EQ(box->scale, 2);
  EXPECT_EQ(box->content, (Rect{0, 0, 512, 768}));
  EXPECT_FALSE(ComputeLetterbox(0, 10, 10, 10).ok());
  EXPECT_FALSE(ComputeLetterbox(10, 10, 10, 100000).ok());
}

TEST(PoseRenderTest, DrawsThroughTheLetterbox) {
  // 1:1 canvas of 512 into 512x768: scale 1, offset (0, 128).
  const Pose pose = MakePose(512, 512, {{1, {256, 0}}, {2, {156, 0}}});
  StatusOr<PoseMap> map = RenderPoseMap(pose, 512, 768);
  ASSERT_TRUE(map.ok());
  EXPECT_DOUBLE_EQ(map->letterbox.offset_y, 128);
  EXPECT_EQ(PixelAt(map->image, 206, 128), BodyLimbColor(0));
  EXPECT_EQ(PixelAt(map->image, 256, 128), BodyColor(1));
  EXPECT_EQ(PixelAt(map->image, 206, 100), (std::array<uint8_t, 3>{0, 0, 0}));  // the bar
}

TEST(PoseRenderTest, DrawsHandsAndFace) {
  Pose pose = MakePose(100, 100, {{1, {50, 50}}});
  PosePerson& person = pose.people[0];
  person.hand_right.assign(kHandKeypoints, Keypoint{});
  person.hand_right[0] = Keypoint{10, 80, 1};
  person.hand_right[1] = Keypoint{30, 80, 1};
  person.face.assign(kFaceKeypoints, Keypoint{});
  person.face[0] = Keypoint{80, 20, 1};
  StatusOr<PoseMap> map = RenderPoseMap(pose, 100, 100);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(PixelAt(map->image, 20, 80), (std::array<uint8_t, 3>{255, 0, 0}));  // edge 0: hue 0
  EXPECT_EQ(PixelAt(map->image, 10, 80), (std::array<uint8_t, 3>{0, 0, 255}));
  EXPECT_EQ(PixelAt(map->image, 80, 20), (std::array<uint8_t, 3>{255, 255, 255}));
  PoseRenderOptions options;
  options.draw_hands = false;
  options.draw_face = false;
  map = RenderPoseMap(pose, 100, 100, options);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(PixelAt(map->image, 20, 80), (std::array<uint8_t, 3>{0, 0, 0}));
  EXPECT_EQ(PixelAt(map->image, 80, 20), (std::array<uint8_t, 3>{0, 0, 0}));
}

TEST(PoseRenderTest, RefusesBadInput) {
  Pose pose = MakePose(100, 100, {{1, {50, 50}}});
  EXPECT_FALSE(RenderPoseMap(pose, 0, 100).ok());
  PoseRenderOptions options;
  options.stick_width = 0;
  EXPECT_FALSE(RenderPoseMap(pose, 100, 100, options).ok());
  pose.people[0].body.pop_back();
  EXPECT_EQ(RenderPoseMap(pose, 100, 100).status().code(), StatusCode::kInvalidArgument);
  pose.canvas_width = 0;
  EXPECT_FALSE(RenderPoseMap(pose, 100, 100).ok());
}

TEST(PoseRenderTest, EveryLibraryPoseRendersAtAnySize) {
  const char* root = std::getenv("FARM_SOURCE_DIR");
  const std::string dir = std::string(root ? root : ".") + "/experiments/poses";
  StatusOr<std::vector<std::string>> names = ListPoses(dir);
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  for (const std::string& name : *names) {
    StatusOr<Pose> pose = LoadPose(dir, name);
    ASSERT_TRUE(pose.ok()) << pose.status().ToString();
    for (const auto& [w, h] : {std::pair{512, 768}, std::pair{768, 512}, std::pair{64, 64}}) {
      StatusOr<PoseMap> map = RenderPoseMap(*pose, w, h);
      ASSERT_TRUE(map.ok()) << name << ": " << map.status().ToString();
      size_t lit = 0;
      for (uint8_t v : map->image.pixels) lit += v != 0;
      EXPECT_GT(lit, 0u) << name << " at " << w << "x" << h;
    }
  }
}

}  // namespace
}  // namespace farm::image
