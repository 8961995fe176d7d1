// Face points for OpenPose: which face-ID face belongs to which body, and the 70 points.
#include <gtest/gtest.h>

#include <vector>

#include "farm/pose/face_points.h"

namespace farm::pose {
namespace {

Body HeadAt(double x, double y, bool with_nose = true) {
  Body body;
  auto add = [&](int part, double px, double py) {
    BodyKeypoint kp;
    kp.part = part;
    kp.position = {px, py};
    kp.score = 0.9;
    body.keypoints.push_back(kp);
  };
  if (with_nose) add(0, x, y);
  add(1, x + 10, y - 10);
  add(2, x - 10, y - 10);
  add(5, x + 40, y + 60);  // a shoulder: not a head point
  return body;
}

faceid::Face FaceAt(double x, double y, double size, double score = 0.9) {
  faceid::Face face;
  face.box = {x, y, size, size};
  face.score = score;
  for (int i = 0; i < 68; ++i) face.landmarks.push_back({x + i, y + 2 * i});
  return face;
}

TEST(FacePoints, EachBodyGetsTheFaceHoldingItsHead) {
  const std::vector<Body> bodies = {HeadAt(500, 300), HeadAt(100, 100)};
  const std::vector<faceid::Face> faces = {FaceAt(60, 60, 80), FaceAt(460, 260, 80), FaceAt(900, 900, 50)};
  EXPECT_EQ(MatchFacesToBodies(bodies, faces), (std::vector<int>{1, 0}));
}

TEST(FacePoints, ABodyWithoutAHeadInAnyFaceGetsNone) {
  const std::vector<Body> bodies = {HeadAt(500, 300)};
  EXPECT_EQ(MatchFacesToBodies(bodies, {FaceAt(0, 0, 50)}), (std::vector<int>{-1}));
  EXPECT_EQ(MatchFacesToBodies(bodies, {}), (std::vector<int>{-1}));
}

TEST(FacePoints, OneFaceForTwoHeadsGoesToTheBetterOne) {
  // Both bodies have head points in the face; the first has all three, the second one eye.
  const std::vector<Body> bodies = {HeadAt(300, 300, false), HeadAt(100, 100)};
  const std::vector<faceid::Face> faces = {FaceAt(80, 80, 230)};
  EXPECT_EQ(MatchFacesToBodies(bodies, faces), (std::vector<int>{-1, 0}));
}

TEST(FacePoints, SeventyPointsWithPupils) {
  const faceid::Face face = FaceAt(10, 20, 100, 0.75);
  const auto points = OpenPoseFace(face);
  ASSERT_EQ(points.size(), 70u);
  EXPECT_EQ(points[0].x, 10);
  EXPECT_EQ(points[67].y, 20 + 2 * 67);
  EXPECT_DOUBLE_EQ(points[68].x, 10 + (36 + 37 + 38 + 39 + 40 + 41) / 6.0);  // right pupil
  EXPECT_DOUBLE_EQ(points[69].x, 10 + (42 + 43 + 44 + 45 + 46 + 47) / 6.0);  // left pupil
  EXPECT_EQ(points[69].confidence, 0.75);
  faceid::Face no_landmarks;
  EXPECT_TRUE(OpenPoseFace(no_landmarks).empty());
}

}  // namespace
}  // namespace farm::pose
