// face-api's faceRecognitionNet: a dlib-style ResNet-34 that maps a 150x150 face chip
// to a 128-d descriptor (not L2-normalised). Float32 on CPU, deterministic.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <string>
#include <vector>

#include "farm/faceid/image.h"
#include "farm/schemas/status.h"

namespace farm::faceid {

class TfjsWeights;

class RecognitionNet {
 public:
  // Loads <model_dir>/face_recognition_model-weights_manifest.json (+ .bin).
  static StatusOr<RecognitionNet> Load(const std::string& model_dir);
  // From already-loaded weights (shapes are checked).
  static StatusOr<RecognitionNet> FromWeights(const TfjsWeights& weights);

  // input150_hwc: float32 [150, 150, 3], values 0..255 (before mean subtraction); another
  // shape is a programming error (c10::Error). Returns the descriptor, float32 [128].
  // Normalisation ((x - mean_rgb) / 255) happens inside.
  at::Tensor ForwardInput150(const at::Tensor& input150_hwc) const;
  // The chip (the descriptor crop) through toBatchTensor(150, centered) and the net.
  std::array<float, 128> Describe(const RgbImage& chip) const;

  // A conv with bias followed by face-api's "scale" layer (x * weights + biases).
  struct ConvLayer {
    at::Tensor filters;        // OIHW
    at::Tensor bias;           // [1, C, 1, 1]
    at::Tensor scale_weights;  // [1, C, 1, 1]
    at::Tensor scale_biases;   // [1, C, 1, 1]
  };
  // Two convs and a shortcut; `down` blocks halve the size (conv1 3x3/2 'valid',
  // shortcut avgPool 2x2/2 with zero channels appended).
  struct ResidualBlock {
    bool down = false;
    ConvLayer conv1;
    ConvLayer conv2;
  };

 private:
  ConvLayer conv32_down_;
  std::vector<ResidualBlock> blocks_;  // conv32_1 .. conv256_down_out, in net order
  at::Tensor fc_;                      // [256, 128]
};

}  // namespace farm::faceid
