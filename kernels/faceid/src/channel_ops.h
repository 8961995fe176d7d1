// Per-channel passes over channels-last [rows, channels] float32 data, in place: the
// detector's bias + ReLU6 and its double-precision batch norm + ReLU6. AVX2 where the
// CPU has it (the build targets plain x86-64), scalar otherwise; both give the same bits
// (no fused multiply-add, the same double operations per element).
#pragma once

#include <cstdint>

namespace farm::faceid::internal {

// x = min(max(x + bias[c], 0), 6).
void AddBiasRelu6(float* data, int64_t rows, int64_t channels, const float* bias);

// x = min(max(float(offset[c] + ((double(x) - mean[c]) * scale[c]) / denominator[c]), 0), 6):
// tfjs's cpu batchNorm (in double, stored as float32) followed by ReLU6.
void BatchNormRelu6(float* data, int64_t rows, int64_t channels, const double* mean,
                    const double* scale, const double* offset, const double* denominator);

}  // namespace farm::faceid::internal
