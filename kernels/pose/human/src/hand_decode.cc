#include "farm/pose/hand_decode.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "farm/pose/js_math.h"

namespace farm::pose {
namespace {

constexpr const char* kClassNames[kHandClassColumns] = {"hand", "fist", "pinch", "point",
                                                        "face", "tip",  "pinchtip"};
constexpr int kFaceColumn = 4;
constexpr double kCropScale = 1.4;  // handtrack.ts detectorExpandFact

// tfjs non_max_suppression_util intersectionOverUnion, in double on float32 corners.
double IntersectionOverUnion(const float* a, const float* b) {
  const double ymin_a = std::min(a[0], a[2]), xmin_a = std::min(a[1], a[3]);
  const double ymax_a = std::max(a[0], a[2]), xmax_a = std::max(a[1], a[3]);
  const double ymin_b = std::min(b[0], b[2]), xmin_b = std::min(b[1], b[3]);
  const double ymax_b = std::max(b[0], b[2]), xmax_b = std::max(b[1], b[3]);
  const double area_a = (ymax_a - ymin_a) * (xmax_a - xmin_a);
  const double area_b = (ymax_b - ymin_b) * (xmax_b - xmin_b);
  if (area_a <= 0 || area_b <= 0) return 0.0;
  const double iy_min = std::max(ymin_a, ymin_b), ix_min = std::max(xmin_a, xmin_b);
  const double iy_max = std::min(ymax_a, ymax_b), ix_max = std::min(xmax_a, xmax_b);
  const double intersection = std::max(iy_max - iy_min, 0.0) * std::max(ix_max - ix_min, 0.0);
  return intersection / (area_a + area_b - intersection);
}

}  // namespace

std::vector<int> NonMaxSuppressionV3(const std::vector<float>& boxes, const std::vector<float>& scores,
                                     int max_output, double iou_threshold, double score_threshold) {
  std::vector<int> candidates;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i] > score_threshold) candidates.push_back(static_cast<int>(i));
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](int a, int b) { return scores[a] > scores[b]; });  // ties keep index order
  std::vector<int> selected;
  for (int candidate : candidates) {
    if (static_cast<int>(selected.size()) >= max_output) break;
    bool suppressed = false;
    for (auto it = selected.rbegin(); it != selected.rend(); ++it) {
      if (IntersectionOverUnion(&boxes[static_cast<size_t>(candidate) * 4],
                                &boxes[static_cast<size_t>(*it) * 4]) >= iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) selected.push_back(candidate);
  }
  return selected;
}

std::vector<HandDetection> DecodeHandDetections(const std::vector<float>& scores,
                                                const std::vector<float>& boxes, int width, int height,
                                                const HandDecodeOptions& options) {
  const size_t anchors = std::min(scores.size() / kHandClassColumns, boxes.size() / 4);
  std::vector<float> best(anchors);
  std::vector<int> best_class(anchors);
  for (size_t a = 0; a < anchors; ++a) {
    // Six columns without 'face'; tf.argMax keeps the first maximum.
    int column = 0;
    float max = -std::numeric_limits<float>::infinity();
    for (int c = 0, k = 0; c < kHandClassColumns; ++c) {
      if (c == kFaceColumn) continue;
      const float v = scores[a * kHandClassColumns + c];
      if (v > max) {
        max = v;
        column = k;
      }
      ++k;
    }
    best[a] = max;
    best_class[a] = column;
  }
  std::vector<float> box_values(boxes.begin(), boxes.begin() + anchors * 4);
  const std::vector<int> kept = NonMaxSuppressionV3(box_values, best, options.max_detected + 1,
                                                    options.iou_threshold, options.min_confidence);
  std::vector<HandDetection> hands;
  for (int anchor : kept) {
    HandDetection hand;
    hand.id = static_cast<int>(hands.size());
    hand.anchor = anchor;
    hand.score = best[anchor];
    hand.class_index = best_class[anchor];
    // Human indexes its 7-name list with the argmax over 6 columns: 4 reads 'face' (it is
    // 'tip') and 5 reads 'tip' (it is 'pinchtip').
    hand.label = kClassNames[hand.class_index];
    const float* b = &box_values[static_cast<size_t>(anchor) * 4];
    hand.box_yxyx = {b[0], b[1], b[2], b[3]};
    const double bx = b[1], by = b[0];
    const double bw = static_cast<double>(b[3]) - b[1], bh = static_cast<double>(b[2]) - b[0];
    hand.box_px = {static_cast<int>(JsTrunc(bx * width)), static_cast<int>(JsTrunc(by * height)),
                   static_cast<int>(JsTrunc(bw * width)), static_cast<int>(JsTrunc(bh * height))};
    // box.ts scale(box, 1.4).
    const double dw = bw * kCropScale, dh = bh * kCropScale;
    hand.crop_box = {bx - (dw - bw) / 2, by - (dh - bh) / 2, dw, dh};
    const auto& c = hand.crop_box;
    hand.crop_y1x1y2x2 = {static_cast<float>(c[1]), static_cast<float>(c[0]),
                          static_cast<float>(c[3] + c[1]), static_cast<float>(c[2] + c[0])};
    hands.push_back(hand);
  }
  std::stable_sort(hands.begin(), hands.end(),
                   [](const HandDetection& a, const HandDetection& b) { return a.score > b.score; });
  if (options.max_detected >= 0 && hands.size() > static_cast<size_t>(options.max_detected)) {
    hands.resize(options.max_detected);
  }
  return hands;
}

double FingerScore(double hand_flag) {
  return (100 - JsTrunc(100 / (1 + std::exp(hand_flag)))) / 100;
}

Hand HandFromLandmarks(const HandDetection& detection, const std::vector<float>& raw_keypoints,
                       float hand_flag, int width, int height, const HandDecodeOptions& options,
                       int crop_size) {
  Hand hand;
  hand.id = detection.id;
  hand.score = Round2(detection.score);
  hand.box_score = hand.score;
  hand.label = detection.label;
  hand.detection = detection;
  hand.hand_flag = hand_flag;
  const auto& crop = detection.crop_box;
  const double finger_score = FingerScore(hand_flag);
  if (detection.score > options.min_confidence && finger_score >= options.min_confidence &&
      raw_keypoints.size() >= 3 * kHandKeypoints) {
    hand.finger_score = finger_score;
    for (int k = 0; k < kHandKeypoints; ++k) {
      const double nx = raw_keypoints[3 * k] / static_cast<double>(crop_size) * crop[2];
      const double ny = raw_keypoints[3 * k + 1] / static_cast<double>(crop_size) * crop[3];
      const double z = raw_keypoints[3 * k + 2];
      hand.keypoints.push_back({width * (nx + crop[0]), height * (ny + crop[1]), std::isnan(z) ? 0.0 : z});
    }
  }
  if (hand.keypoints.empty()) {
    // No keypoints: human would compute an infinite box; keep the detector's instead.
    const auto& px = detection.box_px;
    hand.box = {static_cast<double>(px[0]), static_cast<double>(px[1]), static_cast<double>(px[2]),
                static_cast<double>(px[3])};
  } else {
    double min_x = std::numeric_limits<double>::infinity(), min_y = min_x, max_x = -min_x, max_y = -min_x;
    for (const auto& kp : hand.keypoints) {
      min_x = std::min(min_x, kp[0]);
      min_y = std::min(min_y, kp[1]);
      max_x = std::max(max_x, kp[0]);
      max_y = std::max(max_y, kp[1]);
    }
    hand.box = {min_x, min_y, max_x - min_x, max_y - min_y};
  }
  hand.box_raw = {hand.box[0] / width, hand.box[1] / height, hand.box[2] / width, hand.box[3] / height};
  return hand;
}

}  // namespace farm::pose
