// Depthwise convolution (channel multiplier 1, no dilation) directly on NHWC float data:
// TF's padding, however asymmetric, is read as zeros instead of being materialised, and
// the bias and a clamp (a fused Relu/Relu6) are applied as each output is stored. On the
// pose nets' stride-2 depthwise layers this replaces a padded copy of the input, oneDNN's
// conv and a separate activation pass.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace farm::pose::internal {

struct DepthwiseWindow {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t top = 0, left = 0;    // padding before the first row / column
  int64_t out_h = 0, out_w = 0;  // output size
};

// `x` contiguous float [1, H, W, C]; `filter` contiguous float [kh, kw, C] (TF's
// [kh, kw, C, 1] reshaped); `bias` [C] or undefined. Returns [1, out_h, out_w, C].
at::Tensor DepthwiseNhwc(const at::Tensor& x, const at::Tensor& filter, const at::Tensor& bias,
                         const DepthwiseWindow& w, std::optional<double> min,
                         std::optional<double> max);

}  // namespace farm::pose::internal
