// The OpenPose BODY-18 mapping and the hand -> wrist assignment: human's decoded bodies and
// hands of every reference photo give sampleN_openpose.json and the assignment traces.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "farm/pose/openpose.h"
#include "human_reference.h"

namespace farm::pose {
namespace {

using testing::ReadJson;
using testing::ReferenceSamples;
using testing::ReferenceTensors;

std::vector<Hand> DecodeRun(const nlohmann::json& reference, const ReferenceTensors& tensors, bool variant) {
  const int width = reference.at("image").at("width");
  const int height = reference.at("image").at("height");
  HandDecodeOptions options;
  if (variant) options.min_confidence = reference.at("hand_variant").at("config_change").at("minConfidence");
  const std::string prefix = variant ? "variant." : "";
  std::vector<Hand> hands;
  const auto detections = DecodeHandDetections(tensors.Floats("handdet.scores"), tensors.Floats("handdet.boxes"),
                                               width, height, options);
  const nlohmann::json& expected = reference.at(variant ? "hand_variant" : "hand").at("hands");
  for (size_t h = 0; h < detections.size() && h < expected.size(); ++h) {
    const int row = expected[h].at("landmark_net").at("raw_output_row");
    hands.push_back(HandFromLandmarks(detections[h], tensors.Row(prefix + "hand.raw_keypoints", row),
                                      tensors.Row(prefix + "hand.raw_handflag", row)[0], width, height, options));
  }
  return hands;
}

void ExpectTraceEqual(const HandAssignmentTrace& trace, const nlohmann::json& expected, const std::string& where) {
  auto check = [&](const std::vector<HandAssignment>& got, const nlohmann::json& want, const char* list) {
    ASSERT_EQ(got.size(), want.size()) << where << " " << list;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].hand, want[i].at("hand").get<int>()) << where << " " << list << i;
      EXPECT_EQ(got[i].person, want[i].at("person").get<int>()) << where << " " << list << i;
      EXPECT_EQ(got[i].side == Side::kLeft ? "left" : "right", want[i].at("side").get<std::string>()) << where;
      EXPECT_NEAR(got[i].distance, want[i].at("distance").get<double>(), 1e-9) << where << " " << list << i;
      EXPECT_EQ(got[i].hand_size, want[i].at("hand_size").get<double>()) << where << " " << list << i;
    }
  };
  check(trace.eligible, expected.at("eligible"), "eligible");
  check(trace.assigned, expected.at("assigned"), "assigned");
  EXPECT_EQ(trace.unassigned_hands, expected.at("unassigned_hands").get<std::vector<int>>()) << where;
}

TEST(HumanOpenPose, ReferencePhotosGiveTheirOpenPoseFiles) {
  FARM_POSE_REQUIRE_REFERENCE(dir);
  for (const std::string& sample : ReferenceSamples(dir)) {
    SCOPED_TRACE(sample);
    const nlohmann::json reference = ReadJson(dir + "/" + sample + ".json");
    const ReferenceTensors tensors(dir + "/" + sample + ".safetensors");
    const int width = reference.at("image").at("width");
    const int height = reference.at("image").at("height");
    const std::vector<Body> bodies = DecodeMultiPose(tensors.Floats("movenet.output"), width, height);
    const std::vector<Hand> hands = DecodeRun(reference, tensors, false);
    ASSERT_EQ(hands.size(), reference.at("hand").at("hands").size());
    HandAssignmentTrace trace;
    const OpenPoseDocument document = ToOpenPose(bodies, hands, width, height, &trace);
    const nlohmann::json written = nlohmann::json::parse(OpenPoseJson(document));
    const nlohmann::json expected = ReadJson(dir + "/" + reference.at("openpose").at("file").get<std::string>());
    EXPECT_EQ(written, expected) << "written:\n" << written.dump() << "\nexpected:\n" << expected.dump();
    ExpectTraceEqual(trace, reference.at("openpose").at("hand_assignment"), "default");

    const std::vector<Hand> variant = DecodeRun(reference, tensors, true);
    ASSERT_EQ(variant.size(), reference.at("hand_variant").at("hands").size());
    ExpectTraceEqual(AssignHands(bodies, variant), reference.at("openpose").at("variant_hand_assignment"),
                     "variant");
  }
}

Body BodyWith(const std::vector<std::array<double, 4>>& parts) {  // part, x, y, score
  Body body;
  for (const auto& p : parts) {
    BodyKeypoint kp;
    kp.part = static_cast<int>(p[0]);
    kp.position = {p[1], p[2]};
    kp.score = p[3];
    body.keypoints.push_back(kp);
  }
  return body;
}

Hand HandAt(double x, double y, double size, double score) {
  Hand hand;
  hand.score = score;
  for (int k = 0; k < kHandKeypoints; ++k) hand.keypoints.push_back({x + (k ? size : 0), y, 0});
  hand.box = {x, y, size, 1};
  return hand;
}

TEST(HumanOpenPose, NeckNeedsBothShouldersAndTakesTheLowerScore) {
  const auto both = OpenPoseBody(BodyWith({{5, 100, 50, 0.8}, {6, 60, 52, 0.6}, {0, 80, 20, 0.9}}));
  EXPECT_EQ(both[1].x, 80);
  EXPECT_EQ(both[1].y, 51);
  EXPECT_EQ(both[1].confidence, 0.6);
  EXPECT_EQ(both[0].confidence, 0.9);
  EXPECT_EQ(both[5].x, 100);  // l-shoulder is COCO leftShoulder
  EXPECT_EQ(both[2].x, 60);
  const auto one = OpenPoseBody(BodyWith({{5, 100, 50, 0.8}}));
  EXPECT_EQ(one[1].confidence, 0);
  EXPECT_EQ(one[3].x, 0);  // invisible points are 0, 0, 0
}

TEST(HumanOpenPose, HandsGoToTheNearestFreeWristWithinTheirSize) {
  // One person with both wrists; hand 0 nearest the left wrist, hand 1 equally near it
  // but nearer still to nothing else, hand 2 too far from any wrist.
  const std::vector<Body> bodies = {BodyWith({{9, 100, 100, 0.9}, {10, 200, 100, 0.9}})};
  const std::vector<Hand> hands = {HandAt(105, 100, 50, 0.8), HandAt(110, 100, 120, 0.7),
                                   HandAt(500, 500, 50, 0.9)};
  const HandAssignmentTrace trace = AssignHands(bodies, hands);
  ASSERT_EQ(trace.assigned.size(), 2u);
  EXPECT_EQ(trace.assigned[0].hand, 0);
  EXPECT_EQ(trace.assigned[0].side, Side::kLeft);
  EXPECT_EQ(trace.assigned[1].hand, 1);  // left wrist taken: its next eligible slot
  EXPECT_EQ(trace.assigned[1].side, Side::kRight);
  EXPECT_EQ(trace.unassigned_hands, (std::vector<int>{2}));
  const OpenPoseDocument document = ToOpenPose(bodies, hands, 1000, 1000);
  ASSERT_EQ(document.people[0].hand_left.size(), 21u);
  EXPECT_EQ(document.people[0].hand_left[0].confidence, 0.8);
  EXPECT_EQ(document.people[0].hand_right[0].x, 110);
}

TEST(HumanOpenPose, DistanceTiesGoByHandThenPersonThenLeft) {
  // Two people with wrists at the same place: the tie goes to person 0, left side.
  const std::vector<Body> bodies = {BodyWith({{9, 100, 100, 0.9}, {10, 100, 100, 0.9}}),
                                    BodyWith({{9, 100, 100, 0.9}})};
  const HandAssignmentTrace trace = AssignHands(bodies, {HandAt(100, 110, 50, 0.8)});
  ASSERT_EQ(trace.eligible.size(), 3u);
  ASSERT_EQ(trace.assigned.size(), 1u);
  EXPECT_EQ(trace.assigned[0].person, 0);
  EXPECT_EQ(trace.assigned[0].side, Side::kLeft);
}

TEST(HumanOpenPose, HandsWithoutKeypointsAreNotCandidates) {
  Hand empty;
  empty.box = {0, 0, 500, 500};
  const HandAssignmentTrace trace = AssignHands({BodyWith({{9, 10, 10, 0.9}})}, {empty});
  EXPECT_TRUE(trace.eligible.empty());
  EXPECT_EQ(trace.unassigned_hands, (std::vector<int>{0}));
}

TEST(HumanOpenPose, JsonHasOpenPosesLayout) {
  OpenPoseDocument document;
  document.canvas_width = 64;
  document.canvas_height = 32;
  const nlohmann::json empty = nlohmann::json::parse(OpenPoseJson(document));
  EXPECT_EQ(empty.at("version"), 1.3);
  EXPECT_TRUE(empty.at("people").empty());
  document.people.push_back({std::vector<OpenPosePoint>(18, {1.5, 2, 0.25}), {}, {}, {}});
  const nlohmann::json one = nlohmann::json::parse(OpenPoseJson(document));
  EXPECT_EQ(one.at("people")[0].at("person_id"), nlohmann::json::array({-1}));
  EXPECT_EQ(one.at("people")[0].at("pose_keypoints_2d").size(), 54u);
  EXPECT_EQ(one.at("people")[0].at("pose_keypoints_2d")[0], 1.5);
  EXPECT_TRUE(one.at("people")[0].at("hand_left_keypoints_3d").empty());
  EXPECT_EQ(one.at("canvas_height"), 32);
}

}  // namespace
}  // namespace farm::pose
