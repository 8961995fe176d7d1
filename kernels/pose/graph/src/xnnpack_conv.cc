#include "xnnpack_conv.h"

#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <vector>

namespace farm::pose::internal {
namespace {

// The two ops, looked up once; absent when libtorch was built without XNNPACK.
struct XnnpackOps {
  std::optional<c10::OperatorHandle> prepack, run;
};

const XnnpackOps& Ops() {
  static const XnnpackOps ops = [] {
    XnnpackOps o;
    if (!at::globalContext().isXNNPACKAvailable()) return o;
    auto& dispatcher = c10::Dispatcher::singleton();
    auto prepack = dispatcher.findSchema({"prepacked::conv2d_clamp_prepack", ""});
    auto run = dispatcher.findSchema({"prepacked::conv2d_clamp_run", ""});
    if (prepack && run) {
      o.prepack = *prepack;
      o.run = *run;
      // XNNPACK runs on libtorch's pthreadpool, which starts with one thread per core
      // whatever the intra-op thread count (OpenMP's) is; set_num_threads resizes it. With
      // more pool threads than the process means to use, a busy machine makes every conv
      // wait for a descheduled worker (the pose nets ran ~10x slower). The OpenMP count is
      // set to what it already is.
      at::set_num_threads(at::get_num_threads());
    }
    return o;
  }();
  return ops;
}

}  // namespace

std::optional<c10::IValue> PackXnnpackConv(const at::Tensor& weight, const at::Tensor& bias,
                                           int64_t stride_h, int64_t stride_w, int64_t pad_h,
                                           int64_t pad_w, int64_t groups, std::optional<double> min,
                                           std::optional<double> max) {
  const XnnpackOps& ops = Ops();
  if (!ops.prepack) return std::nullopt;
  std::vector<c10::IValue> stack{weight.contiguous(),
                                 bias.defined() ? c10::IValue(bias.contiguous()) : c10::IValue(),
                                 std::vector<int64_t>{stride_h, stride_w},
                                 std::vector<int64_t>{pad_h, pad_w},
                                 std::vector<int64_t>{1, 1},
                                 groups,
                                 min ? c10::IValue(at::Scalar(*min)) : c10::IValue(),
                                 max ? c10::IValue(at::Scalar(*max)) : c10::IValue()};
  ops.prepack->callBoxed(&stack);
  return stack.at(0);
}

at::Tensor RunXnnpackConv(const c10::IValue& context, const at::Tensor& input_nchw) {
  std::vector<c10::IValue> stack{input_nchw, context};
  Ops().run->callBoxed(&stack);
  return stack.at(0).toTensor();
}

}  // namespace farm::pose::internal
