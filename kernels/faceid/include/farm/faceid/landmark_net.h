// face-api's faceLandmark68Net: a DenseNet-style net of separable convolutions mapping
// a 112x112 face crop to 68 landmarks. Float32 on CPU, deterministic.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <string>
#include <vector>

#include "farm/faceid/image.h"
#include "farm/schemas/status.h"

namespace farm::faceid {

class TfjsWeights;

class LandmarkNet {
 public:
  // Loads <model_dir>/face_landmark_68_model-weights_manifest.json (+ .bin).
  static StatusOr<LandmarkNet> Load(const std::string& model_dir);
  static StatusOr<LandmarkNet> FromWeights(const TfjsWeights& weights);

  // input112_hwc: float32 [112, 112, 3], values 0..255 (before mean subtraction); another
  // shape is a programming error (c10::Error). Returns the 136 raw outputs
  // [x0, y0, x1, y1, ...] in units of the padded square.
  at::Tensor ForwardInput112(const at::Tensor& input112_hwc) const;
  // 68 points relative to the crop's width and height (README step 3 post-processing);
  // values can fall outside [0, 1].
  std::vector<std::array<double, 2>> LandmarksRelativeToCrop(const RgbImage& crop) const;
  // The post-processing alone, for raw outputs of a crop of width w and height h: done
  // in float32 as face-api's tensor ops do, returned widened to double.
  static std::vector<std::array<double, 2>> PostProcess(const at::Tensor& raw136, int w, int h);

  // tfjs separableConv2d ('same'): depthwise 3x3 then pointwise 1x1, plus bias.
  // dense0's conv0 is a plain 3x3 conv instead (pointwise and depthwise unused).
  struct SeparableConv {
    at::Tensor depthwise;  // [C, 1, 3, 3]
    at::Tensor pointwise;  // [out, C, 1, 1]; for a plain conv the OIHW 3x3 filters
    at::Tensor bias;       // [1, out, 1, 1]
    bool plain = false;
  };
  // conv0 (stride 2) and conv1..conv3 (stride 1) with face-api's dense sums and ReLUs.
  struct DenseBlock {
    SeparableConv conv[4];
  };

 private:
  std::vector<DenseBlock> blocks_;  // dense0..dense3
  at::Tensor fc_weights_;           // [256, 136]
  at::Tensor fc_bias_;              // [136]
};

}  // namespace farm::faceid
