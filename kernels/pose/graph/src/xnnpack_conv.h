// Convolutions through XNNPACK (the engine tfjs's wasm backend runs), as libtorch exposes
// it: the `prepacked::conv2d_clamp_*` ops. The filter and bias are packed once at load;
// a run reads the channels-last input, adds the bias and clamps (a fused Relu/Relu6) in
// one pass and returns a channels-last output. On the MobileNetV2 1x1 and 3x3 convs of
// the pose nets this is ~25% faster than at::conv2d's oneDNN kernel plus a separate
// activation pass. A libtorch built without XNNPACK gives no contexts (callers fall back).
// The first use sizes libtorch's pthreadpool (XNNPACK's threads) to at::get_num_threads().
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>

#include <optional>

namespace farm::pose::internal {

// A packed conv context, or nullopt when libtorch has no XNNPACK. `weight` OIHW (any
// memory format), `bias` [O] or undefined; the clamp bounds are optional.
std::optional<c10::IValue> PackXnnpackConv(const at::Tensor& weight, const at::Tensor& bias,
                                           int64_t stride_h, int64_t stride_w, int64_t pad_h,
                                           int64_t pad_w, int64_t groups, std::optional<double> min,
                                           std::optional<double> max);

// Runs a packed context on an NCHW view of channels-last data; the result is channels-last.
at::Tensor RunXnnpackConv(const c10::IValue& context, const at::Tensor& input_nchw);

}  // namespace farm::pose::internal
