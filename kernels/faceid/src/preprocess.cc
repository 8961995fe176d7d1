#include "farm/faceid/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace farm::faceid {

at::Tensor ResizeBilinear(const at::Tensor& hwc_float, int out_h, int out_w) {
  at::Tensor input = hwc_float.to(at::kFloat).contiguous();
  TORCH_CHECK(input.dim() == 3, "ResizeBilinear expects [H, W, C], got ", input.sizes());
  const int64_t in_h = input.size(0), in_w = input.size(1), channels = input.size(2);
  if (in_h == out_h && in_w == out_w) return input;
  at::Tensor output = at::zeros({out_h, out_w, channels}, at::kFloat);
  if (in_h == 0 || in_w == 0 || out_h <= 0 || out_w <= 0) return output;

  const float* src = input.data_ptr<float>();
  float* dst = output.data_ptr<float>();
  const double row_ratio = static_cast<double>(in_h) / out_h;
  const double col_ratio = static_cast<double>(in_w) / out_w;
  for (int r = 0; r < out_h; ++r) {
    const double fr = row_ratio * r;
    const int64_t r0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(fr)));
    const int64_t r1 = std::min<int64_t>(in_h - 1, static_cast<int64_t>(std::ceil(fr)));
    const double wr = fr - static_cast<double>(r0);
    const float* top_row = src + r0 * in_w * channels;
    const float* bot_row = src + r1 * in_w * channels;
    for (int c = 0; c < out_w; ++c) {
      const double fc = col_ratio * c;
      const int64_t c0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(fc)));
      const int64_t c1 = std::min<int64_t>(in_w - 1, static_cast<int64_t>(std::ceil(fc)));
      const double wc = fc - static_cast<double>(c0);
      for (int64_t d = 0; d < channels; ++d) {
        const double tl = top_row[c0 * channels + d], tr = top_row[c1 * channels + d];
        const double bl = bot_row[c0 * channels + d], br = bot_row[c1 * channels + d];
        const double top = tl + (tr - tl) * wc;
        const double bot = bl + (br - bl) * wc;
        *dst++ = static_cast<float>(top + (bot - top) * wr);
      }
    }
  }
  return output;
}

at::Tensor PadToSquare(const RgbImage& image, bool centered) {
  const int h = image.height, w = image.width;
  const int side = std::max(h, w);
  at::Tensor out = at::zeros({side, side, 3}, at::kFloat);
  if (side == 0 || image.rgb.size() != static_cast<size_t>(w) * h * 3) return out;
  const int diff = std::abs(h - w);
  // face-api appends Math.round(diff / 2) (centered) or all of diff, and prepends the rest.
  const int after = centered ? static_cast<int>(std::floor(diff * 0.5 + 0.5)) : diff;
  const int before = diff - after;
  const int top = h < w ? before : 0;
  const int left = w < h ? before : 0;
  float* dst = out.data_ptr<float>();
  for (int y = 0; y < h; ++y) {
    const uint8_t* src = image.rgb.data() + static_cast<size_t>(y) * w * 3;
    float* row = dst + (static_cast<size_t>(y + top) * side + left) * 3;
    for (int i = 0; i < w * 3; ++i) row[i] = src[i];
  }
  return out;
}

at::Tensor ToBatchTensor(const RgbImage& image, int size, bool centered) {
  return ResizeBilinear(PadToSquare(image, centered), size, size);
}

}  // namespace farm::faceid
