// MoveNet post-processing against human 3.3.6: the stored raw output of every reference
// photo decodes to human's bodies exactly, and each of human's quirks on small inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "farm/pose/movenet_decode.h"
#include "human_reference.h"

namespace farm::pose {
namespace {

using testing::ReadJson;
using testing::ReferenceSamples;
using testing::ReferenceTensors;

void ExpectBodiesEqual(const std::vector<Body>& bodies, const nlohmann::json& expected,
                       const std::string& where) {
  ASSERT_EQ(bodies.size(), expected.size()) << where << ": body count";
  for (size_t b = 0; b < bodies.size(); ++b) {
    const Body& body = bodies[b];
    const nlohmann::json& e = expected[b];
    const std::string at = where + " body " + std::to_string(b);
    EXPECT_EQ(body.id, e.at("id").get<int>()) << at;
    EXPECT_EQ(body.score, e.at("score").get<double>()) << at;
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(body.box[i], e.at("box")[i].get<double>()) << at << " box[" << i << "]";
      EXPECT_EQ(body.box_raw[i], e.at("boxRaw")[i].get<double>()) << at << " boxRaw[" << i << "]";
    }
    ASSERT_EQ(body.keypoints.size(), e.at("keypoints").size()) << at << ": keypoint count";
    for (size_t k = 0; k < body.keypoints.size(); ++k) {
      const BodyKeypoint& kp = body.keypoints[k];
      const nlohmann::json& ek = e.at("keypoints")[k];
      const std::string kat = at + " keypoint " + std::to_string(k);
      EXPECT_EQ(BodyPartName(kp.part), ek.at("part").get<std::string>()) << kat;
      EXPECT_EQ(kp.score, ek.at("score").get<double>()) << kat;
      for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(kp.position[i], ek.at("position")[i].get<double>()) << kat << " position[" << i << "]";
        EXPECT_EQ(kp.position_raw[i], ek.at("positionRaw")[i].get<double>()) << kat << " positionRaw";
      }
    }
  }
}

TEST(HumanMoveNet, StoredOutputsDecodeToHumansBodies) {
  FARM_POSE_REQUIRE_REFERENCE(dir);
  for (const std::string& sample : ReferenceSamples(dir)) {
    const nlohmann::json reference = ReadJson(dir + "/" + sample + ".json");
    const ReferenceTensors tensors(dir + "/" + sample + ".safetensors");
    const int width = reference.at("image").at("width");
    const int height = reference.at("image").at("height");
    const MoveNetPadding pad = MoveNetPaddingFor(width, height);
    const auto& expected_pad = reference.at("movenet").at("preprocessing").at("padding_top_bottom_left_right");
    EXPECT_EQ(pad.top, expected_pad[0].get<int>()) << sample;
    EXPECT_EQ(pad.bottom, expected_pad[1].get<int>()) << sample;
    EXPECT_EQ(pad.left, expected_pad[2].get<int>()) << sample;
    EXPECT_EQ(pad.right, expected_pad[3].get<int>()) << sample;
    const std::vector<Body> bodies = DecodeMultiPose(tensors.Floats("movenet.output"), width, height);
    ExpectBodiesEqual(bodies, reference.at("movenet").at("bodies"), sample);
  }
}

// One slot of MoveNet output with the given keypoints (part -> x, y normalised, score).
struct RawPoint {
  int part;
  float x, y, score;
};
std::vector<float> Slot(float slot_score, const std::vector<RawPoint>& points) {
  std::vector<float> slot(56, 0.0f);
  for (const RawPoint& p : points) {
    slot[3 * p.part] = p.y;
    slot[3 * p.part + 1] = p.x;
    slot[3 * p.part + 2] = p.score;
  }
  slot[55] = slot_score;
  return slot;
}

std::vector<std::string> Parts(const Body& body) {
  std::vector<std::string> names;
  for (const BodyKeypoint& kp : body.keypoints) names.push_back(BodyPartName(kp.part));
  return names;
}

// A 1000x1000 photo has no padding, so positions are round(1000 * x).
constexpr int kSide = 1000;

TEST(HumanMoveNet, LeftRightFixReordersAndNeverRelabels) {
  // leftEye right of rightEye in the photo is human's "correct" order; here it is not.
  const auto out = Slot(0.9f, {{1, 0.40f, 0.2f, 0.9f}, {2, 0.60f, 0.2f, 0.8f}});
  const auto bodies = DecodeMultiPose(out, kSide, kSide);
  ASSERT_EQ(bodies.size(), 1u);
  ASSERT_EQ(Parts(bodies[0]), (std::vector<std::string>{"rightEye", "leftEye"}));
  EXPECT_EQ(bodies[0].keypoints[0].position[0], 600);  // rightEye keeps its own point
  EXPECT_EQ(bodies[0].keypoints[1].position[0], 400);
}

TEST(HumanMoveNet, VerticalFixRemovesAKneeAboveItsShoulder) {
  const auto out = Slot(0.9f, {{5, 0.6f, 0.5f, 0.9f}, {13, 0.6f, 0.4f, 0.9f}, {15, 0.6f, 0.9f, 0.9f}});
  const auto bodies = DecodeMultiPose(out, kSide, kSide);
  ASSERT_EQ(bodies.size(), 1u);
  // leftKnee (y 400) is above leftShoulder (y 500): removed; the ankle then has no knee.
  EXPECT_EQ(Parts(bodies[0]), (std::vector<std::string>{"leftShoulder", "leftAnkle"}));
}

TEST(HumanMoveNet, RelativeSwapWithAMissingPartDeletesThePoint) {
  // Shoulders at x 600 (left) and 400 (right); only leftHip, at x 420, nearer the right
  // shoulder: the swap with the missing rightHip moves leftHip into JavaScript's
  // keypoints[-1] and leaves a hole, so the hip is gone.
  const auto out = Slot(0.9f, {{5, 0.6f, 0.3f, 0.9f}, {6, 0.4f, 0.3f, 0.9f}, {11, 0.42f, 0.6f, 0.9f}});
  const auto bodies = DecodeMultiPose(out, kSide, kSide);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(Parts(bodies[0]), (std::vector<std::string>{"leftShoulder", "rightShoulder"}));
}

TEST(HumanMoveNet, ElbowPassReadsAndRestoresTheStash) {
  PartList list;
  auto kp = [](int part, double x, double y) {
    BodyKeypoint k;
    k.part = part;
    k.position = {x, y};
    k.score = 0.9;
    return k;
  };
  // Shoulders 600 / 400; rightHip alone at 590 (nearer the left shoulder) goes to the
  // stash. Then leftElbow is missing, so the elbow pass measures the stashed hip as the
  // "left elbow" (|600-590| < |400-590|: no flip from it) and the right elbow at 610 is
  // nearer the left shoulder: swap(-1, rightElbow) puts the hip back in the elbow's place
  // and stashes the elbow.
  list.entries = {kp(5, 600, 300), kp(6, 400, 300), kp(8, 610, 450), kp(12, 590, 600)};
  FixBodyParts(list);
  ASSERT_EQ(list.entries.size(), 4u);
  ASSERT_TRUE(list.entries[2].has_value());
  EXPECT_EQ(list.entries[2]->part, 12);  // the hip is back, where the elbow was
  EXPECT_FALSE(list.entries[3].has_value());  // the hip's old place is a hole
  ASSERT_TRUE(list.stash.has_value());
  EXPECT_EQ(list.stash->part, 8);  // the elbow is lost in the stash
}

TEST(HumanMoveNet, RelativePassNeedsBothShoulders) {
  PartList list;
  BodyKeypoint shoulder;
  shoulder.part = 5;
  shoulder.position = {600, 300};
  BodyKeypoint hip;
  hip.part = 11;
  hip.position = {100, 600};
  list.entries = {shoulder, hip};
  FixBodyParts(list);
  ASSERT_EQ(list.entries.size(), 2u);
  EXPECT_TRUE(list.entries[1].has_value());
  EXPECT_FALSE(list.stash.has_value());
}

TEST(HumanMoveNet, ThresholdsAreStrictAndSlotScoresRounded) {
  // The float32 nearest 0.3 lies above 0.3 and passes; the one below it does not.
  const float below = std::nextafter(0.3f, 0.0f);
  std::vector<float> out = Slot(0.305f, {{0, 0.5f, 0.5f, below}, {1, 0.5f, 0.5f, 0.3f}});
  const auto low = Slot(0.304f, {{0, 0.5f, 0.5f, 0.9f}});
  out.insert(out.end(), low.begin(), low.end());
  const auto bodies = DecodeMultiPose(out, kSide, kSide);
  ASSERT_EQ(bodies.size(), 1u);  // round2(0.304) = 0.3 is not > 0.3
  EXPECT_EQ(bodies[0].score, 0.31);
  EXPECT_EQ(Parts(bodies[0]), (std::vector<std::string>{"leftEye"}));
}

TEST(HumanMoveNet, StableSortByRoundedScoreAndCap) {
  std::vector<float> out;
  const float scores[] = {0.501f, 0.7f, 0.499f, 0.9f};  // 0.5, 0.7, 0.5, 0.9 after round2
  for (int i = 0; i < 4; ++i) {
    const auto slot = Slot(scores[i], {{0, 0.1f * (i + 1), 0.5f, 0.9f}});
    out.insert(out.end(), slot.begin(), slot.end());
  }
  MoveNetDecodeOptions options;
  options.max_detected = 3;
  const auto bodies = DecodeMultiPose(out, kSide, kSide, options);
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[0].id, 3);
  EXPECT_EQ(bodies[1].id, 1);
  EXPECT_EQ(bodies[2].id, 0);  // tie with slot 2 at 0.5: slot order kept
}

TEST(HumanMoveNet, RescaleOutOfThePaddedFrame) {
  // 1000x600 pads 200 rows top and bottom: y' = round(600*y) * 1000/600 - 200.
  const auto out = Slot(0.9f, {{0, 0.25f, 0.5f, 0.9f}});
  const auto bodies = DecodeMultiPose(out, 1000, 600);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0].keypoints[0].position[0], 250);
  EXPECT_EQ(bodies[0].keypoints[0].position[1], 300.0 * 1000 / 600 - 200);
  EXPECT_EQ(bodies[0].keypoints[0].position_raw[1], (300.0 * 1000 / 600 - 200) / 600);
}

TEST(HumanMoveNet, JitterCacheReplacesNearbyKeypointsAcrossBodies) {
  // Two bodies whose first keypoints lie 0.003 apart: the second body gets the first's.
  std::vector<float> out = Slot(0.9f, {{0, 0.500f, 0.5f, 0.9f}});
  const auto second = Slot(0.8f, {{1, 0.503f, 0.5f, 0.7f}});
  out.insert(out.end(), second.begin(), second.end());
  const auto bodies = DecodeMultiPose(out, kSide, kSide);
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[1].keypoints[0].part, 0);  // replaced whole, name included
  EXPECT_EQ(bodies[1].keypoints[0].score, 0.9);
  EXPECT_EQ(bodies[1].box[0], 503);  // the box was computed before the smoothing
}

TEST(HumanMoveNet, BodyWithoutKeypointsHasAnEmptyBox) {
  const auto bodies = DecodeMultiPose(Slot(0.9f, {}), kSide, kSide);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_TRUE(bodies[0].keypoints.empty());
  EXPECT_EQ(bodies[0].box, (std::array<double, 4>{0, 0, 0, 0}));
}

}  // namespace
}  // namespace farm::pose
