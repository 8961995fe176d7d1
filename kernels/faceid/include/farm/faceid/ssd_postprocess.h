// Post-processing of the SSD MobileNet v1 face detector (README step 1): score
// threshold, face-api's greedy non-maximum suppression, and mapping the boxes from the
// padded 512 square back to image pixels. Pure arithmetic on the raw outputs.
#pragma once

#include <span>
#include <vector>

#include "farm/faceid/geometry.h"
#include "farm/schemas/status.h"

namespace farm::faceid {

inline constexpr int kSsdInputSize = 512;
inline constexpr int kSsdNumAnchors = 5118;

// The detector's raw output: one score (sigmoid of the face logit) and one box
// [ymin, xmin, ymax, xmax] per anchor, relative to the zero-padded 512 square.
struct SsdRawOutput {
  std::vector<float> scores;  // [num_anchors]
  std::vector<float> boxes;   // [num_anchors * 4]
};

struct Detection {
  float score = 0;   // float32, as face-api reports it
  Box box;           // image pixels
  Box relative_box;  // box / (image width, height), face-api's relative rect
  int anchor = -1;   // index of the anchor it came from
};

// face-api's nonMaxSuppression: candidates with score > min_confidence in descending
// score order (stable for ties); a candidate is dropped when its IoU with an already
// selected box is > iou_threshold; at most max_results. Returns anchor indices.
std::vector<int> SsdNonMaxSuppression(std::span<const float> boxes, std::span<const float> scores,
                                      int max_results, double iou_threshold, double min_confidence);

// Thresholding, NMS (IoU 0.5) and the box mapping of README step 1 for an image of
// image_width x image_height. Errors on inconsistent raw sizes or a non-positive image size.
StatusOr<std::vector<Detection>> SsdPostProcess(const SsdRawOutput& raw, int image_width,
                                                int image_height, double min_confidence = 0.5,
                                                int max_results = 100);

// face-api's computeReshapedDimensions: the image's size inside the padded square,
// (round(W * s), round(H * s)) with s = input_size / max(W, H) and JS Math.round.
void SsdReshapedDimensions(int image_width, int image_height, int input_size, int* reshaped_width,
                           int* reshaped_height);

}  // namespace farm::faceid
