// tfjs semantics on libtorch tensors, shared by the nets: weight layout conversion,
// 'same' padding, the face-api input normalisation. Internal to farm_faceid.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "farm/faceid/weights.h"

namespace farm::faceid::internal {

// tfjs conv2d filters [kh, kw, in, out] -> OIHW [out, in, kh, kw], in channels-last
// memory (the layout the nets convolve in, so no per-call conversion).
at::Tensor ConvFiltersToOihw(const at::Tensor& hwio);
// tfjs depthwise filters [kh, kw, C, 1] -> grouped-conv weight [C, 1, kh, kw], channels-last.
at::Tensor DepthwiseFiltersToOihw(const at::Tensor& hwc1);
// A per-channel vector [C] as [1, C, 1, 1] for broadcasting over NCHW.
at::Tensor AsChannelVector(const at::Tensor& c);

// Pads NCHW `x` as tfjs 'same' does for a k x k window with this stride: total
// max((ceil(n/s)-1)*s + k - n, 0) per axis, the smaller half before, the rest after.
at::Tensor PadSame(const at::Tensor& x, int64_t k, int64_t stride);
// conv2d with tfjs 'same' padding (explicit, possibly asymmetric), no bias.
at::Tensor Conv2dSame(const at::Tensor& x, const at::Tensor& oihw, int64_t stride, int64_t groups = 1);

// conv2d without bias through oneDNN on channels-last data, whatever the size: at::conv2d
// sends a batch of one with small planes (the recognition net from 128 channels on, 1x1
// convs on one thread) to im2col + OpenBLAS, which runs its AVX2 kernel on this Zen 5;
// oneDNN reads and writes NHWC as is and uses AVX-512. Returns channels-last.
at::Tensor Conv2d(const at::Tensor& x, const at::Tensor& oihw, int64_t stride, int64_t padding_h,
                  int64_t padding_w, int64_t groups = 1);
// A 1x1 conv, stride 1, no bias.
inline at::Tensor Conv1x1(const at::Tensor& x, const at::Tensor& oihw) {
  return Conv2d(x, oihw, 1, 0, 0);
}

// face-api's input normalisation: (hwc - mean_rgb) / divisor in float32, as [1,3,H,W]
// (channels-last memory, the layout the nets run in).
at::Tensor NormalizeToNchw(const at::Tensor& hwc, const float mean_rgb[3], float divisor);

// The mean face-api subtracts for its landmark and recognition nets.
inline constexpr float kFaceMeanRgb[3] = {122.782f, 117.001f, 104.298f};

}  // namespace farm::faceid::internal
