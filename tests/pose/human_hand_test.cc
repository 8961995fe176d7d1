// The hand pipeline's post-processing against human 3.3.6: the stored detector outputs and
// landmark-net outputs of every reference photo decode to human's hands exactly, for the
// default run (minConfidence 0.5) and the variant run (0.1); NMS, labels and fingerScore
// quirks on small inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "farm/pose/hand_decode.h"
#include "human_reference.h"

namespace farm::pose {
namespace {

using testing::ReadJson;
using testing::ReferenceSamples;
using testing::ReferenceTensors;

// Decodes one run ("hand" or "hand_variant") and compares with the reference.
void CheckRun(const nlohmann::json& reference, const ReferenceTensors& tensors, const std::string& run,
              const std::string& prefix, double min_confidence, const std::string& where) {
  const int width = reference.at("image").at("width");
  const int height = reference.at("image").at("height");
  HandDecodeOptions options;
  options.min_confidence = min_confidence;
  const auto detections =
      DecodeHandDetections(tensors.Floats("handdet.scores"), tensors.Floats("handdet.boxes"), width, height,
                           options);
  const nlohmann::json& section = reference.at(run);
  const nlohmann::json& selected = run == "hand" ? section.at("detector").at("nms_selected_anchor_indices")
                                                 : section.at("nms_selected_anchor_indices");
  ASSERT_EQ(detections.size(), section.at("hands").size()) << where;
  std::vector<int> anchors_in_nms_order(detections.size());
  for (const HandDetection& d : detections) anchors_in_nms_order.at(d.id) = d.anchor;
  EXPECT_EQ(anchors_in_nms_order, selected.get<std::vector<int>>()) << where << ": NMS order";
  for (size_t h = 0; h < detections.size(); ++h) {
    const HandDetection& d = detections[h];
    const nlohmann::json& e = section.at("hands")[h];
    const nlohmann::json& det = e.at("detector");
    const nlohmann::json& net = e.at("landmark_net");
    const std::string at = where + " hand " + std::to_string(h);
    EXPECT_EQ(d.id, e.at("id").get<int>()) << at;
    EXPECT_EQ(d.anchor, det.at("anchor_index").get<int>()) << at;
    EXPECT_EQ(d.score, det.at("score_float32").get<float>()) << at;
    EXPECT_EQ(d.class_index, det.at("argmax_of_6").get<int>()) << at;
    EXPECT_EQ(d.box_px, (det.at("box_px_trunc").get<std::array<int, 4>>())) << at;
    EXPECT_EQ(d.box_yxyx, (det.at("box_yxyx_norm").get<std::array<float, 4>>())) << at;
    EXPECT_EQ(d.crop_box, (net.at("crop_box_xywh_norm").get<std::array<double, 4>>())) << at;
    EXPECT_EQ(d.crop_y1x1y2x2, (net.at("crop_box_y1x1y2x2_float32").get<std::array<float, 4>>())) << at;

    const int row = net.at("raw_output_row");
    const std::vector<float> raw = tensors.Row(prefix + "hand.raw_keypoints", row);
    const float flag = tensors.Row(prefix + "hand.raw_handflag", row)[0];
    EXPECT_EQ(flag, net.at("handflag_identity_1").get<float>()) << at;
    const Hand hand = HandFromLandmarks(d, raw, flag, width, height, options);
    EXPECT_EQ(hand.id, e.at("id").get<int>()) << at;
    EXPECT_EQ(hand.score, e.at("score").get<double>()) << at;
    EXPECT_EQ(hand.box_score, e.at("boxScore").get<double>()) << at;
    EXPECT_EQ(hand.finger_score, e.at("fingerScore").get<double>()) << at;
    EXPECT_EQ(hand.label, e.at("label").get<std::string>()) << at;
    EXPECT_EQ(hand.box, (e.at("box").get<std::array<double, 4>>())) << at;
    EXPECT_EQ(hand.box_raw, (e.at("boxRaw").get<std::array<double, 4>>())) << at;
    ASSERT_EQ(hand.keypoints.size(), e.at("keypoints").size()) << at;
    for (size_t k = 0; k < hand.keypoints.size(); ++k) {
      EXPECT_EQ(hand.keypoints[k], (e.at("keypoints")[k].get<std::array<double, 3>>()))
          << at << " keypoint " << k;
    }
  }
}

TEST(HumanHand, StoredOutputsDecodeToHumansHands) {
  FARM_POSE_REQUIRE_REFERENCE(dir);
  for (const std::string& sample : ReferenceSamples(dir)) {
    const nlohmann::json reference = ReadJson(dir + "/" + sample + ".json");
    const ReferenceTensors tensors(dir + "/" + sample + ".safetensors");
    if (!reference.at("hand").at("hands").empty()) {
      CheckRun(reference, tensors, "hand", "", 0.5, sample + " default");
    } else {
      // Without a hand the hand.* tensors are absent; the detector still must keep none.
      const auto detections = DecodeHandDetections(tensors.Floats("handdet.scores"),
                                                   tensors.Floats("handdet.boxes"), 1, 1);
      EXPECT_TRUE(detections.empty()) << sample;
      EXPECT_EQ(reference.at("hand").at("detector").at("candidates_above_min_confidence").get<int>() == 0,
                true)
          << sample << ": the reference lists candidates but no hands";
    }
    const double variant = reference.at("hand_variant").at("config_change").at("minConfidence");
    if (!reference.at("hand_variant").at("hands").empty()) {
      CheckRun(reference, tensors, "hand_variant", "variant.", variant, sample + " variant");
    }
  }
}

// Boxes as ymin, xmin, ymax, xmax.
TEST(HumanHand, NmsTiesTakeTheLowerIndexFirst) {
  const std::vector<float> boxes = {0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3};
  const std::vector<float> scores = {0.6f, 0.6f, 0.7f};
  EXPECT_EQ(NonMaxSuppressionV3(boxes, scores, 10, 0.2, 0.5), (std::vector<int>{2, 0}));
}

TEST(HumanHand, NmsDropsAtIouEqualToTheThreshold) {
  // Two unit squares overlapping by a quarter: IoU = 0.25 / 1.75 = 1/7.
  const std::vector<float> boxes = {0, 0, 1, 1, 0, 0.75f, 1, 1.75f};
  const std::vector<float> scores = {0.9f, 0.8f};
  const double iou = 0.25 / 1.75;
  EXPECT_EQ(NonMaxSuppressionV3(boxes, scores, 10, iou, 0.5).size(), 1u);
  EXPECT_EQ(NonMaxSuppressionV3(boxes, scores, 10, std::nextafter(iou, 1.0), 0.5).size(), 2u);
}

TEST(HumanHand, NmsOrdersCornersAndIgnoresEmptyBoxes) {
  // The second box is the first with swapped corners; the third has no area.
  const std::vector<float> boxes = {0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1};
  const std::vector<float> scores = {0.9f, 0.8f, 0.7f};
  EXPECT_EQ(NonMaxSuppressionV3(boxes, scores, 10, 0.2, 0.5), (std::vector<int>{0, 2}));
}

TEST(HumanHand, DetectionsStopAtMaxPlusOneThenCap) {
  std::vector<float> scores, boxes;
  for (int i = 0; i < 5; ++i) {
    const float row[7] = {0.6f + 0.01f * i, 0, 0, 0, 0.99f, 0, 0};  // 'face' is ignored
    scores.insert(scores.end(), row, row + 7);
    const float box[4] = {0.1f * i, 0.1f * i, 0.1f * i + 0.05f, 0.1f * i + 0.05f};
    boxes.insert(boxes.end(), box, box + 4);
  }
  HandDecodeOptions options;
  options.max_detected = 2;
  const auto hands = DecodeHandDetections(scores, boxes, 100, 100, options);
  ASSERT_EQ(hands.size(), 2u);
  EXPECT_EQ(hands[0].anchor, 4);
  EXPECT_EQ(hands[1].anchor, 3);
  EXPECT_EQ(hands[0].label, "hand");
}

TEST(HumanHand, LabelsAreShiftedPastTheFaceColumn) {
  // Column 5 ('tip') is the 5th of the six kept columns: human calls it 'face'.
  const std::vector<float> scores = {0, 0, 0, 0, 0, 0.9f, 0.1f, 0, 0, 0, 0, 0, 0.2f, 0.8f};
  const std::vector<float> boxes = {0, 0, 0.1f, 0.1f, 0.5f, 0.5f, 0.6f, 0.6f};
  const auto hands = DecodeHandDetections(scores, boxes, 100, 100);
  ASSERT_EQ(hands.size(), 2u);
  EXPECT_EQ(hands[0].label, "face");
  EXPECT_EQ(hands[1].label, "tip");  // really 'pinchtip'
}

TEST(HumanHand, FingerScoreTreatsTheProbabilityAsALogit) {
  EXPECT_EQ(FingerScore(0.0), 0.5);
  EXPECT_EQ(FingerScore(1.0), 0.74);
  EXPECT_EQ(FingerScore(0.9804008603096008), 0.73);
  for (double p = 0; p <= 1.0; p += 0.01) {
    EXPECT_GE(FingerScore(p), 0.5) << p;
    EXPECT_LE(FingerScore(p), 0.74) << p;
  }
}

TEST(HumanHand, KeypointsMapFromTheCropBox) {
  HandDetection detection;
  detection.score = 0.9f;
  detection.crop_box = {0.25, 0.5, 0.5, 0.25};
  std::vector<float> raw(63, 0.0f);
  raw[0] = 112;  // keypoint 0 at the crop centre
  raw[1] = 112;
  raw[2] = -3;
  raw[3] = 224;  // keypoint 1 at the crop's far corner
  raw[4] = 224;
  const Hand hand = HandFromLandmarks(detection, raw, 0.99f, 400, 800);
  ASSERT_EQ(hand.keypoints.size(), 21u);
  EXPECT_EQ(hand.keypoints[0], (std::array<double, 3>{200, 500, -3}));
  EXPECT_EQ(hand.keypoints[1], (std::array<double, 3>{300, 600, 0}));
  EXPECT_EQ(hand.box, (std::array<double, 4>{100, 400, 200, 200}));  // the keypoints' box
}

TEST(HumanHand, HandDetectorRunsLandmarksOnlyAboveTheFingerGate) {
  HandDetection detection;
  detection.score = 0.95f;
  detection.box_px = {1, 2, 3, 4};
  HandDecodeOptions strict;
  strict.min_confidence = 0.8;  // above any fingerScore
  const Hand hand = HandFromLandmarks(detection, std::vector<float>(63, 1.0f), 1.0f, 10, 10, strict);
  EXPECT_TRUE(hand.keypoints.empty());
  EXPECT_EQ(hand.finger_score, 0);
  EXPECT_EQ(hand.box, (std::array<double, 4>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace farm::pose
