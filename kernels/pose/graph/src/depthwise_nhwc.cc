#include "depthwise_nhwc.h"

#include <ATen/EmptyTensor.h>
#include <ATen/Parallel.h>
#include <c10/core/CPUAllocator.h>
#include <immintrin.h>

#include <algorithm>
#include <limits>

namespace farm::pose::internal {
namespace {

struct Geometry {
  int64_t h, w, c;
  DepthwiseWindow win;
  float lo, hi;
};

// The taps of output pixel (oy, ox) that fall inside the image.
struct Taps {
  int64_t y0, x0, ky_begin, ky_end, kx_begin, kx_end;
};

Taps TapsAt(const Geometry& g, int64_t oy, int64_t ox) {
  const DepthwiseWindow& win = g.win;
  Taps t;
  t.y0 = oy * win.stride_h - win.top;
  t.x0 = ox * win.stride_w - win.left;
  t.ky_begin = std::max<int64_t>(0, -t.y0);
  t.ky_end = std::min<int64_t>(win.kernel_h, g.h - t.y0);
  t.kx_begin = std::max<int64_t>(0, -t.x0);
  t.kx_end = std::min<int64_t>(win.kernel_w, g.w - t.x0);
  return t;
}

// Channels [c0, c_end) of one output pixel, one at a time.
void PixelScalar(const float* x, const float* filter, const float* bias, const Geometry& g,
                 const Taps& t, int64_t c0, int64_t c_end, float* o) {
  for (int64_t c = c0; c < c_end; ++c) {
    float acc = 0.0f;
    for (int64_t ky = t.ky_begin; ky < t.ky_end; ++ky) {
      for (int64_t kx = t.kx_begin; kx < t.kx_end; ++kx) {
        acc += x[((t.y0 + ky) * g.w + (t.x0 + kx)) * g.c + c] *
               filter[(ky * g.win.kernel_w + kx) * g.c + c];
      }
    }
    const float v = acc + (bias ? bias[c] : 0.0f);
    o[c] = std::min(std::max(v, g.lo), g.hi);
  }
}

void RowScalar(const float* x, const float* filter, const float* bias, const Geometry& g,
               int64_t oy, float* out) {
  for (int64_t ox = 0; ox < g.win.out_w; ++ox)
    PixelScalar(x, filter, bias, g, TapsAt(g, oy, ox), 0, g.c, out + ox * g.c);
}

// The same sums, 8 channels per AVX2 register (multiply then add, no FMA, as the scalar
// code rounds), 16 at a time while they last.
// Adds the bias to channels [c, c + 8), clamps and stores them.
__attribute__((target("avx2"), always_inline)) inline void Store(__m256 acc, const float* bias,
                                                                 __m256 lo, __m256 hi, int64_t c,
                                                                 float* o) {
  if (bias) acc = _mm256_add_ps(acc, _mm256_loadu_ps(bias + c));
  _mm256_storeu_ps(o + c, _mm256_min_ps(_mm256_max_ps(acc, lo), hi));
}

__attribute__((target("avx2"))) void RowAvx2(const float* x, const float* filter,
                                             const float* bias, const Geometry& g, int64_t oy,
                                             float* out) {
  const __m256 lo = _mm256_set1_ps(g.lo), hi = _mm256_set1_ps(g.hi);
  for (int64_t ox = 0; ox < g.win.out_w; ++ox) {
    const Taps t = TapsAt(g, oy, ox);
    float* o = out + ox * g.c;
    int64_t c = 0;
    for (; c + 16 <= g.c; c += 16) {
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
      for (int64_t ky = t.ky_begin; ky < t.ky_end; ++ky) {
        for (int64_t kx = t.kx_begin; kx < t.kx_end; ++kx) {
          const float* xp = x + ((t.y0 + ky) * g.w + (t.x0 + kx)) * g.c + c;
          const float* fp = filter + (ky * g.win.kernel_w + kx) * g.c + c;
          a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(xp), _mm256_loadu_ps(fp)));
          a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(xp + 8), _mm256_loadu_ps(fp + 8)));
        }
      }
      Store(a0, bias, lo, hi, c, o);
      Store(a1, bias, lo, hi, c + 8, o);
    }
    for (; c + 8 <= g.c; c += 8) {
      __m256 a0 = _mm256_setzero_ps();
      for (int64_t ky = t.ky_begin; ky < t.ky_end; ++ky) {
        for (int64_t kx = t.kx_begin; kx < t.kx_end; ++kx) {
          const float* xp = x + ((t.y0 + ky) * g.w + (t.x0 + kx)) * g.c + c;
          const float* fp = filter + (ky * g.win.kernel_w + kx) * g.c + c;
          a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(xp), _mm256_loadu_ps(fp)));
        }
      }
      Store(a0, bias, lo, hi, c, o);
    }
    PixelScalar(x, filter, bias, g, t, c, g.c, o);
  }
}

}  // namespace

at::Tensor DepthwiseNhwc(const at::Tensor& x, const at::Tensor& filter, const at::Tensor& bias,
                         const DepthwiseWindow& w, std::optional<double> min,
                         std::optional<double> max) {
  const Geometry g{x.size(1),
                   x.size(2),
                   x.size(3),
                   w,
                   min ? static_cast<float>(*min) : -std::numeric_limits<float>::infinity(),
                   max ? static_cast<float>(*max) : std::numeric_limits<float>::infinity()};
  // Allocated as XNNPACK allocates (tail padding): the 1x1 conv that usually follows
  // reads it in place instead of copying it.
  at::Tensor y = at::detail::empty_generic({1, w.out_h, w.out_w, g.c},
                                           c10::GetDefaultMobileCPUAllocator(),
                                           c10::DispatchKeySet(c10::DispatchKey::CPU), at::kFloat,
                                           c10::nullopt);
  const float* xp = x.data_ptr<float>();
  const float* fp = filter.data_ptr<float>();
  const float* bp = bias.defined() ? bias.data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  static const bool avx2 = __builtin_cpu_supports("avx2");
  at::parallel_for(0, w.out_h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t oy = begin; oy < end; ++oy) {
      float* row = yp + oy * w.out_w * g.c;
      avx2 ? RowAvx2(xp, fp, bp, g, oy, row) : RowScalar(xp, fp, bp, g, oy, row);
    }
  });
  return y;
}

}  // namespace farm::pose::internal
