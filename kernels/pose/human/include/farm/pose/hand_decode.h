// The hand pipeline's post-processing as @vladmandic/human 3.3.6 (handtrack.ts) does it:
// per-anchor class scores without the 'face' column, tfjs NonMaxSuppressionV3, the 1.4x
// crop boxes, the shifted class labels, the landmark crop, human's fingerScore and the
// keypoints in photo pixels. The steps: ../shared/reference/pose/README.md ("Hand pipeline").
#pragma once

#include <array>
#include <string>
#include <vector>

namespace farm::pose {

inline constexpr int kHandKeypoints = 21;  // MediaPipe order, also OpenPose's hand order
inline constexpr int kHandClassColumns = 7;

struct HandDecodeOptions {
  double min_confidence = 0.5;  // hand.minConfidence: detector score (strict) and fingerScore gate
  double iou_threshold = 0.2;   // hand.iouThreshold: a box overlapping a kept one this much is dropped
  int max_detected = 20;        // hand.maxDetected
};

// One box kept by the detector's NMS, in NMS order.
struct HandDetection {
  int id = 0;            // position in NMS order (human's id)
  int anchor = 0;        // the anchor's row in the detector outputs
  float score = 0;       // the best of the six non-face class scores
  int class_index = 0;   // its argmax over the six columns (first maximum)
  std::string label;     // human's label: the 7-name list indexed by that argmax
  std::array<float, 4> box_yxyx{};     // the detector box, normalised
  std::array<int, 4> box_px{};         // trunc(x, y, w, h * (W, H, W, H))
  std::array<double, 4> crop_box{};    // boxRaw: the box scaled 1.4x about its centre (x, y, w, h)
  std::array<float, 4> crop_y1x1y2x2{};  // crop_box as the float32 tensor cropAndResize gets
};

// Candidates (max score > min_confidence), NonMaxSuppressionV3 with at most
// max_detected + 1 boxes, then a stable sort by score capped at max_detected. `scores` is
// anchors x 7 (hand, fist, pinch, point, face, tip, pinchtip), `boxes` anchors x 4
// (ymin, xmin, ymax, xmax normalised); width/height are the photo's.
std::vector<HandDetection> DecodeHandDetections(const std::vector<float>& scores,
                                                const std::vector<float>& boxes, int width, int height,
                                                const HandDecodeOptions& options = {});

// tf.image.nonMaxSuppression (V3) on boxes (n x 4, corners in any order) and scores:
// candidates with score > score_threshold in descending score order (ties: lower index
// first), dropped when IoU with a kept box >= iou_threshold; at most max_output indices.
std::vector<int> NonMaxSuppressionV3(const std::vector<float>& boxes, const std::vector<float>& scores,
                                     int max_output, double iou_threshold, double score_threshold);

// Human's fingerScore from the landmark net's hand flag p (already a probability, which
// human treats as a logit): (100 - trunc(100 / (1 + exp(p)))) / 100, always in [0.50, 0.74].
double FingerScore(double hand_flag);

struct Hand {
  int id = 0;
  double score = 0;         // round2 of the detector score
  double box_score = 0;     // the same (human's boxScore)
  double finger_score = 0;
  std::string label;
  std::array<double, 4> box{};      // keypoint bounding box (px); the detector box without keypoints
  std::array<double, 4> box_raw{};  // box / (W, H, W, H)
  std::vector<std::array<double, 3>> keypoints;  // 21 x (x, y, z) or empty
  HandDetection detection;
  float hand_flag = 0;
};

// detectFingers and the final box: `raw_keypoints` are the landmark net's 63 values
// (x, y, z per point, x and y in crop pixels of a `crop_size` crop).
Hand HandFromLandmarks(const HandDetection& detection, const std::vector<float>& raw_keypoints,
                       float hand_flag, int width, int height, const HandDecodeOptions& options = {},
                       int crop_size = 224);

}  // namespace farm::pose
