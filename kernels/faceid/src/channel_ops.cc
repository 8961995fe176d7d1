#include "channel_ops.h"

#include <ATen/Parallel.h>

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace farm::faceid::internal {
namespace {

constexpr int64_t kRowsPerTask = 64;

float Relu6(float x) { return std::min(std::max(x, 0.0f), 6.0f); }

void AddBiasRelu6Scalar(float* p, int64_t c0, int64_t channels, const float* bias) {
  for (int64_t c = c0; c < channels; ++c) p[c] = Relu6(p[c] + bias[c]);
}

void BatchNormScalar(float* p, int64_t c0, int64_t channels, const double* mean,
                     const double* scale, const double* offset, const double* denominator) {
  for (int64_t c = c0; c < channels; ++c) {
    p[c] = Relu6(static_cast<float>(offset[c] + ((p[c] - mean[c]) * scale[c]) / denominator[c]));
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void AddBiasRelu6Avx2(float* data, int64_t begin, int64_t end,
                                                       int64_t channels, const float* bias) {
  const __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
  for (int64_t r = begin; r < end; ++r) {
    float* p = data + r * channels;
    int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      const __m256 v = _mm256_add_ps(_mm256_loadu_ps(p + c), _mm256_loadu_ps(bias + c));
      _mm256_storeu_ps(p + c, _mm256_min_ps(_mm256_max_ps(v, zero), six));
    }
    AddBiasRelu6Scalar(p, c, channels, bias);
  }
}

__attribute__((target("avx2"))) void BatchNormRelu6Avx2(float* data, int64_t begin, int64_t end,
                                                        int64_t channels, const double* mean,
                                                        const double* scale, const double* offset,
                                                        const double* denominator) {
  const __m128 zero = _mm_setzero_ps(), six = _mm_set1_ps(6.0f);
  for (int64_t r = begin; r < end; ++r) {
    float* p = data + r * channels;
    int64_t c = 0;
    for (; c + 4 <= channels; c += 4) {
      const __m256d x = _mm256_cvtps_pd(_mm_loadu_ps(p + c));
      const __m256d centred = _mm256_sub_pd(x, _mm256_loadu_pd(mean + c));
      const __m256d scaled = _mm256_mul_pd(centred, _mm256_loadu_pd(scale + c));
      const __m256d normed = _mm256_add_pd(_mm256_loadu_pd(offset + c),
                                           _mm256_div_pd(scaled, _mm256_loadu_pd(denominator + c)));
      const __m128 f = _mm256_cvtpd_ps(normed);  // round to nearest, as static_cast<float>
      _mm_storeu_ps(p + c, _mm_min_ps(_mm_max_ps(f, zero), six));
    }
    BatchNormScalar(p, c, channels, mean, scale, offset, denominator);
  }
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#else
bool HasAvx2() { return false; }
#endif

}  // namespace

void AddBiasRelu6(float* data, int64_t rows, int64_t channels, const float* bias) {
  at::parallel_for(0, rows, kRowsPerTask, [&](int64_t begin, int64_t end) {
#if defined(__x86_64__)
    if (HasAvx2()) return AddBiasRelu6Avx2(data, begin, end, channels, bias);
#endif
    for (int64_t r = begin; r < end; ++r) AddBiasRelu6Scalar(data + r * channels, 0, channels, bias);
  });
}

void BatchNormRelu6(float* data, int64_t rows, int64_t channels, const double* mean,
                    const double* scale, const double* offset, const double* denominator) {
  at::parallel_for(0, rows, kRowsPerTask, [&](int64_t begin, int64_t end) {
#if defined(__x86_64__)
    if (HasAvx2()) {
      return BatchNormRelu6Avx2(data, begin, end, channels, mean, scale, offset, denominator);
    }
#endif
    for (int64_t r = begin; r < end; ++r) {
      BatchNormScalar(data + r * channels, 0, channels, mean, scale, offset, denominator);
    }
  });
}

}  // namespace farm::faceid::internal
