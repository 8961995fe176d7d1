// The SSD MobileNet v1 weights, rearranged for libtorch (OIHW filters) once at load.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <vector>

namespace farm::faceid::internal {

// conv2d 'same' + bias ("convolution_bn_offset") + ReLU6.
struct SsdPointwiseConv {
  at::Tensor weight;        // [out, in, k, k]
  std::vector<float> bias;  // [out]
  int stride = 1;
};

// depthwiseConv2d 'same' + tf.batchNorm (arithmetic in double, as tfjs's cpu kernel) + ReLU6.
// The batch-norm parameters are per channel, widened to double at load.
struct SsdDepthwiseConv {
  at::Tensor weight;                // [C, 1, 3, 3]
  std::vector<double> mean;         // moving_mean
  std::vector<double> scale;        // gamma
  std::vector<double> offset;       // beta
  std::vector<double> denominator;  // sqrt(moving_variance + epsilon)
  int stride = 1;
};

// 1x1 convs with bias: box encodings (4 per anchor) and class logits (3 per anchor);
// weights OIHW, biases [out].
struct SsdBoxPredictor {
  at::Tensor box_weight, box_bias;
  at::Tensor class_weight, class_bias;
};

struct SsdParams {
  SsdPointwiseConv conv0;                                            // MobilenetV1/Conv2d_0
  std::vector<std::pair<SsdDepthwiseConv, SsdPointwiseConv>> pairs;  // Conv2d_1 .. Conv2d_13
  std::vector<SsdPointwiseConv> prediction;                          // Prediction/Conv2d_0 .. 7
  std::array<SsdBoxPredictor, 6> box_predictors;
  at::Tensor anchors;  // [5118, 4] float32
};

}  // namespace farm::faceid::internal
