#include "tfjs_ops.h"

#include <algorithm>

namespace farm::faceid::internal {

// Channels-last memory: libtorch's oneDNN convolution converts the weight to the input's
// memory format on every call (for the ResNet, 22 MB of strided copies per face).
at::Tensor ConvFiltersToOihw(const at::Tensor& hwio) {
  return hwio.permute({3, 2, 0, 1}).contiguous(at::MemoryFormat::ChannelsLast);
}

at::Tensor DepthwiseFiltersToOihw(const at::Tensor& hwc1) {
  return hwc1.permute({2, 3, 0, 1}).contiguous(at::MemoryFormat::ChannelsLast);
}

at::Tensor AsChannelVector(const at::Tensor& c) { return c.reshape({1, -1, 1, 1}).contiguous(); }

namespace {
std::pair<int64_t, int64_t> SamePadding(int64_t n, int64_t k, int64_t stride) {
  const int64_t out = (n + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + k - n, 0);
  return {total / 2, total - total / 2};
}
}  // namespace

at::Tensor PadSame(const at::Tensor& x, int64_t k, int64_t stride) {
  const auto [top, bottom] = SamePadding(x.size(2), k, stride);
  const auto [left, right] = SamePadding(x.size(3), k, stride);
  if (top == 0 && bottom == 0 && left == 0 && right == 0) return x;
  if (x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    // constant_pad_nd on channels-last data copies element by element (ms per layer);
    // in NHWC the copy is one contiguous run of W*C values per row.
    const at::Tensor nhwc = x.permute({0, 2, 3, 1});
    at::Tensor padded = at::zeros({x.size(0), x.size(2) + top + bottom, x.size(3) + left + right,
                                   x.size(1)}, x.options());
    padded.slice(1, top, top + x.size(2)).slice(2, left, left + x.size(3)).copy_(nhwc);
    return padded.permute({0, 3, 1, 2});
  }
  return at::constant_pad_nd(x, {left, right, top, bottom}, 0.0);
}

at::Tensor Conv2d(const at::Tensor& x, const at::Tensor& oihw, int64_t stride, int64_t padding_h,
                  int64_t padding_w, int64_t groups) {
  const at::Tensor input = x.contiguous(at::MemoryFormat::ChannelsLast);
  const int64_t strides[2] = {stride, stride};
  const int64_t padding[2] = {padding_h, padding_w};
  const int64_t ones[2] = {1, 1};
  if (!at::hasMKLDNN()) {
    return at::conv2d(input, oihw, /*bias=*/{}, at::IntArrayRef(strides), at::IntArrayRef(padding),
                      at::IntArrayRef(ones), groups);
  }
  return at::mkldnn_convolution(input, oihw, /*bias=*/{}, padding, strides, ones, groups);
}

at::Tensor Conv2dSame(const at::Tensor& x, const at::Tensor& oihw, int64_t stride, int64_t groups) {
  const auto [top, bottom] = SamePadding(x.size(2), oihw.size(2), stride);
  const auto [left, right] = SamePadding(x.size(3), oihw.size(3), stride);
  // Symmetric: the convolution pads itself (no padded copy of the input).
  if (top == bottom && left == right) return Conv2d(x, oihw, stride, top, left, groups);
  return Conv2d(PadSame(x, oihw.size(2), stride), oihw, stride, 0, 0, groups);
}

at::Tensor NormalizeToNchw(const at::Tensor& hwc, const float mean_rgb[3], float divisor) {
  const at::Tensor mean = at::tensor({mean_rgb[0], mean_rgb[1], mean_rgb[2]}, at::kFloat);
  const at::Tensor normalized = (hwc.to(at::kFloat) - mean) / divisor;
  return normalized.permute({2, 0, 1}).unsqueeze(0).contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace farm::faceid::internal
