#include "farm/faceid/ssd_postprocess.h"

#include <algorithm>
#include <numeric>

#include "js_math.h"

namespace farm::faceid {
namespace {

// face-api's IOU on [ymin, xmin, ymax, xmax] boxes (float32 values used as doubles).
double Iou(std::span<const float> boxes, int i, int j) {
  const double yi0 = std::min<double>(boxes[4 * i], boxes[4 * i + 2]);
  const double xi0 = std::min<double>(boxes[4 * i + 1], boxes[4 * i + 3]);
  const double yi1 = std::max<double>(boxes[4 * i], boxes[4 * i + 2]);
  const double xi1 = std::max<double>(boxes[4 * i + 1], boxes[4 * i + 3]);
  const double yj0 = std::min<double>(boxes[4 * j], boxes[4 * j + 2]);
  const double xj0 = std::min<double>(boxes[4 * j + 1], boxes[4 * j + 3]);
  const double yj1 = std::max<double>(boxes[4 * j], boxes[4 * j + 2]);
  const double xj1 = std::max<double>(boxes[4 * j + 1], boxes[4 * j + 3]);
  const double area_i = (yi1 - yi0) * (xi1 - xi0);
  const double area_j = (yj1 - yj0) * (xj1 - xj0);
  if (area_i <= 0 || area_j <= 0) return 0.0;
  const double iy0 = std::max(yi0, yj0);
  const double ix0 = std::max(xi0, xj0);
  const double iy1 = std::min(yi1, yj1);
  const double ix1 = std::min(xi1, xj1);
  const double inter = std::max(iy1 - iy0, 0.0) * std::max(ix1 - ix0, 0.0);
  return inter / (area_i + area_j - inter);
}

}  // namespace

std::vector<int> SsdNonMaxSuppression(std::span<const float> boxes, std::span<const float> scores,
                                      int max_results, double iou_threshold,
                                      double min_confidence) {
  const int num_boxes = static_cast<int>(std::min(scores.size(), boxes.size() / 4));
  const int output_size = std::min(max_results, num_boxes);
  std::vector<int> candidates;
  for (int i = 0; i < num_boxes; ++i) {
    if (static_cast<double>(scores[i]) > min_confidence) candidates.push_back(i);
  }
  // JS Array.prototype.sort is stable: equal scores keep anchor order.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](int a, int b) { return scores[a] > scores[b]; });
  std::vector<int> selected;
  for (int c : candidates) {
    if (static_cast<int>(selected.size()) >= output_size) break;
    const double original = scores[c];
    double score = original;
    for (int j = static_cast<int>(selected.size()) - 1; j >= 0; --j) {
      const double iou = Iou(boxes, c, selected[j]);
      if (iou == 0.0) continue;
      score *= (iou <= iou_threshold) ? 1.0 : 0.0;
      if (score <= min_confidence) break;
    }
    if (score == original) selected.push_back(c);
  }
  return selected;
}

void SsdReshapedDimensions(int image_width, int image_height, int input_size, int* reshaped_width,
                           int* reshaped_height) {
  const double scale = static_cast<double>(input_size) / std::max(image_height, image_width);
  *reshaped_width = static_cast<int>(internal::JsRound(image_width * scale));
  *reshaped_height = static_cast<int>(internal::JsRound(image_height * scale));
}

StatusOr<std::vector<Detection>> SsdPostProcess(const SsdRawOutput& raw, int image_width,
                                                int image_height, double min_confidence,
                                                int max_results) {
  if (raw.boxes.size() != raw.scores.size() * 4) {
    return InvalidArgument("SSD raw output: " + std::to_string(raw.scores.size()) + " scores but " +
                           std::to_string(raw.boxes.size()) + " box values (expected 4 per score)");
  }
  if (image_width <= 0 || image_height <= 0) {
    return InvalidArgument("SSD post-processing: image size " + std::to_string(image_width) + "x" +
                           std::to_string(image_height) + " must be positive");
  }
  const std::vector<int> indices =
      SsdNonMaxSuppression(raw.boxes, raw.scores, max_results, 0.5, min_confidence);

  int reshaped_w = 0, reshaped_h = 0;
  SsdReshapedDimensions(image_width, image_height, kSsdInputSize, &reshaped_w, &reshaped_h);
  const double pad_x = static_cast<double>(kSsdInputSize) / reshaped_w;
  const double pad_y = static_cast<double>(kSsdInputSize) / reshaped_h;

  std::vector<Detection> detections;
  detections.reserve(indices.size());
  for (int idx : indices) {
    const double top = std::max(0.0, static_cast<double>(raw.boxes[4 * idx])) * pad_y;
    const double bottom = std::min(1.0, static_cast<double>(raw.boxes[4 * idx + 2])) * pad_y;
    const double left = std::max(0.0, static_cast<double>(raw.boxes[4 * idx + 1])) * pad_x;
    const double right = std::min(1.0, static_cast<double>(raw.boxes[4 * idx + 3])) * pad_x;
    Detection d;
    d.score = raw.scores[idx];
    d.anchor = idx;
    d.relative_box = Box{left, top, right - left, bottom - top};
    d.box = Box{left * image_width, top * image_height, (right - left) * image_width,
                (bottom - top) * image_height};
    detections.push_back(d);
  }
  return detections;
}

}  // namespace farm::faceid
