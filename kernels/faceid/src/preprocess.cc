#include "farm/faceid/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

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

// PadToSquare + ResizeBilinear in one pass over the 8-bit pixels: the padded square is
// never built (for a 1920x1280 photo it would be 44 MB of floats per call). The
// arithmetic is ResizeBilinear's, on the same values (padding reads as 0).
at::Tensor ToBatchTensor(const RgbImage& image, int size, bool centered) {
  const int h = image.height, w = image.width;
  const int side = std::max(h, w);
  if (side == 0 || size <= 0 || image.rgb.size() != static_cast<size_t>(w) * h * 3) {
    return ResizeBilinear(PadToSquare(image, centered), size, size);
  }
  const int diff = std::abs(h - w);
  const int after = centered ? static_cast<int>(std::floor(diff * 0.5 + 0.5)) : diff;
  const int before = diff - after;
  const int top = h < w ? before : 0;
  const int left = w < h ? before : 0;

  // Source rows/columns of the padded square, as ResizeBilinear computes them (identity
  // when the square already has the target size), mapped into the image (-1: padding).
  struct Tap {
    int64_t i0, i1;
    double weight;
  };
  const auto taps = [&](int offset, int extent) {
    std::vector<Tap> out(size);
    const double ratio = static_cast<double>(side) / size;
    for (int o = 0; o < size; ++o) {
      int64_t p0 = o, p1 = o;
      double weight = 0;
      if (side != size) {
        const double f = ratio * o;
        p0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(f)));
        p1 = std::min<int64_t>(side - 1, static_cast<int64_t>(std::ceil(f)));
        weight = f - static_cast<double>(p0);
      }
      const auto inside = [&](int64_t p) { return p >= offset && p < offset + extent ? p - offset : -1; };
      out[o] = {inside(p0), inside(p1), weight};
    }
    return out;
  };
  const std::vector<Tap> rows = taps(top, h), cols = taps(left, w);

  at::Tensor output = at::empty({size, size, 3}, at::kFloat);
  float* dst = output.data_ptr<float>();
  const uint8_t* src = image.rgb.data();
  const auto pixel = [&](int64_t y, int64_t x, int d) -> double {
    return y < 0 || x < 0 ? 0.0 : src[(y * w + x) * 3 + d];
  };
  for (const Tap& row : rows) {
    for (const Tap& col : cols) {
      for (int d = 0; d < 3; ++d) {
        if (side == size) {  // ResizeBilinear returns the padded square itself
          *dst++ = static_cast<float>(pixel(row.i0, col.i0, d));
          continue;
        }
        const double tl = pixel(row.i0, col.i0, d), tr = pixel(row.i0, col.i1, d);
        const double bl = pixel(row.i1, col.i0, d), br = pixel(row.i1, col.i1, d);
        const double top_value = tl + (tr - tl) * col.weight;
        const double bot_value = bl + (br - bl) * col.weight;
        *dst++ = static_cast<float>(top_value + (bot_value - top_value) * row.weight);
      }
    }
  }
  return output;
}

}  // namespace farm::faceid
