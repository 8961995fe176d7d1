// Convolutions, pooling, matrix products and TopK. Data stay NHWC; a conv views its input
// as NCHW in channels-last memory (a permute, no copy), so libtorch's oneDNN kernels run
// on the NHWC buffer and their channels-last output permutes back to NHWC for free.
// Filters are converted to libtorch's layout once, at load (KernelDef::prepare).
#include <algorithm>
#include <limits>
#include <numeric>
#include <optional>

#include "depthwise_nhwc.h"
#include "kernel.h"
#include "xnnpack_conv.h"

namespace farm::pose::internal {
namespace {

using Args = std::vector<Value>;
using Prep = Prepared;

struct Window {
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t top = 0, bottom = 0, left = 0, right = 0;  // padding
};

// TF 'SAME': total = max((ceil(in/s)-1)*s + k_eff - in, 0); the smaller half before.
std::pair<int64_t, int64_t> SamePads(int64_t in, int64_t k, int64_t stride, int64_t dilation) {
  const int64_t k_eff = (k - 1) * dilation + 1;
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + k_eff - in, 0);
  return {total / 2, total - total / 2};
}

Window ReadWindow(const Node& n, int64_t in_h, int64_t in_w, int64_t k_h, int64_t k_w) {
  if (n.String("data_format", "NHWC") != "NHWC") Fail("only NHWC data_format is supported");
  Window w;
  const std::vector<int64_t> strides = n.Ints("strides");
  if (strides.size() == 4) {
    w.stride_h = strides[1];
    w.stride_w = strides[2];
  }
  const std::vector<int64_t> dilations = n.Ints("dilations");
  if (dilations.size() == 4) {
    w.dilation_h = dilations[1];
    w.dilation_w = dilations[2];
  }
  if (w.stride_h <= 0 || w.stride_w <= 0 || w.dilation_h <= 0 || w.dilation_w <= 0)
    Fail("bad strides or dilations");
  const std::string padding = n.String("padding", "VALID");
  if (padding == "SAME") {
    std::tie(w.top, w.bottom) = SamePads(in_h, k_h, w.stride_h, w.dilation_h);
    std::tie(w.left, w.right) = SamePads(in_w, k_w, w.stride_w, w.dilation_w);
  } else if (padding == "EXPLICIT") {
    const std::vector<int64_t> p = n.Ints("explicit_paddings");  // [N0,N1,H0,H1,W0,W1,C0,C1]
    if (p.size() != 8) Fail("EXPLICIT padding needs 8 explicit_paddings");
    w.top = p[2];
    w.bottom = p[3];
    w.left = p[4];
    w.right = p[5];
  } else if (padding != "VALID") {
    Fail("unsupported padding \"" + padding + "\"");
  }
  return w;
}

at::Tensor NchwView(const at::Tensor& nhwc) {
  if (nhwc.dim() != 4) Fail("expects a rank-4 NHWC input, got rank " + std::to_string(nhwc.dim()));
  return nhwc.to(at::kFloat).contiguous().permute({0, 3, 1, 2});
}
at::Tensor NhwcView(const at::Tensor& nchw) { return nchw.permute({0, 2, 3, 1}); }

// `nchw` (a channels-last view) padded by `w`'s padding with `value`, again as a
// channels-last view. Built in NHWC (border filled, interior copied row by row):
// constant_pad_nd on a channels-last tensor is several times slower.
at::Tensor PadChannelsLast(const at::Tensor& nchw, const Window& w, double value) {
  if (w.top == 0 && w.bottom == 0 && w.left == 0 && w.right == 0) return nchw;
  const at::Tensor x = NhwcView(nchw);
  const int64_t h = x.size(1), wd = x.size(2);
  at::Tensor padded = at::empty({x.size(0), h + w.top + w.bottom, wd + w.left + w.right, x.size(3)},
                                x.options());
  if (w.top > 0) padded.narrow(1, 0, w.top).fill_(value);
  if (w.bottom > 0) padded.narrow(1, w.top + h, w.bottom).fill_(value);
  at::Tensor rows = padded.narrow(1, w.top, h);
  if (w.left > 0) rows.narrow(2, 0, w.left).fill_(value);
  if (w.right > 0) rows.narrow(2, w.left + wd, w.right).fill_(value);
  rows.narrow(2, w.left, wd).copy_(x);
  return padded.permute({0, 3, 1, 2});
}

// Conv filters [kh, kw, in, out] -> OIHW; depthwise [kh, kw, C, M] -> [C*M, 1, kh, kw].
at::Tensor ConvWeight(const at::Tensor& filter, bool depthwise) {
  if (filter.dim() != 4) Fail("filter must have rank 4");
  at::Tensor w =
      depthwise ? filter.permute({2, 3, 0, 1})
                      .reshape({filter.size(2) * filter.size(3), 1, filter.size(0), filter.size(1)})
                : filter.permute({3, 2, 0, 1});
  return w.to(at::kFloat).contiguous(at::MemoryFormat::ChannelsLast);
}

bool IsDepthwise(const Node& n) { return n.op.find("Depthwise") != std::string::npos; }

// Fused ops after the conv / matmul: BiasAdd, FusedBatchNorm, Relu, Relu6, Elu,
// LeakyRelu, Sigmoid, Prelu, Tanh. `args` are the node's extra inputs (from index 2).
at::Tensor ApplyFused(const Node& n, at::Tensor y, const std::vector<at::Tensor>& args, bool nchw,
                      bool bias_done) {
  const std::vector<std::string> ops = n.Strings("fused_ops");
  size_t next = 0;
  auto channel = [&](const at::Tensor& v) { return nchw ? v.reshape({1, -1, 1, 1}) : v; };
  auto arg = [&]() -> const at::Tensor& {
    if (next >= args.size()) Fail("fused_ops need more arguments than the node has");
    return args[next++];
  };
  for (const std::string& op : ops) {
    if (op == "BiasAdd") {
      const at::Tensor& b = arg();
      if (!bias_done) y = y + channel(b);
    } else if (op == "FusedBatchNorm") {
      const at::Tensor scale = channel(arg()), offset = channel(arg()), mean = channel(arg()),
                       var = channel(arg());
      y = (y - mean) * (scale * at::rsqrt(var + n.Float("epsilon", 1e-3))) + offset;
    } else if (op == "Relu") {  // in place: y is this node's own fresh result
      y.relu_();
    } else if (op == "Relu6") {
      y.clamp_(0, 6);
    } else if (op == "Elu") {
      y = at::elu(y);
    } else if (op == "LeakyRelu") {
      y = at::leaky_relu(y, n.Float("leakyrelu_alpha", 0.2));
    } else if (op == "Sigmoid") {
      y.sigmoid_();
    } else if (op == "Tanh") {
      y.tanh_();
    } else if (op == "Prelu") {
      const at::Tensor alpha = channel(arg());
      y = at::where(y > 0, y, y * alpha);
    } else {
      Fail("unsupported fused op \"" + op + "\"");
    }
  }
  return y;
}

// The clamp an XNNPACK conv can fuse for these fused_ops ([], [BiasAdd], [BiasAdd, Relu],
// [BiasAdd, Relu6]); nullopt for any other list (those keep at::conv2d + ApplyFused).
struct Clamp {
  std::optional<double> min, max;
};
std::optional<Clamp> XnnpackClamp(const std::vector<std::string>& ops) {
  if (ops.empty() || (ops.size() == 1 && ops[0] == "BiasAdd")) return Clamp{};
  if (ops.size() == 2 && ops[0] == "BiasAdd" && ops[1] == "Relu") return Clamp{0.0, std::nullopt};
  if (ops.size() == 2 && ops[0] == "BiasAdd" && ops[1] == "Relu6") return Clamp{0.0, 6.0};
  return std::nullopt;
}

// prepared.tensors: [weight, bias or undefined, and for a depthwise conv with channel
// multiplier 1 and a fusable fused_ops list the filter as [kh, kw, C] for DepthwiseNhwc].
// prepared.packed, for a non-depthwise conv
// with a constant filter, no dilation and an XNNPACK-fusable fused_ops list: [the context
// with no padding, and for 'SAME' the one with symmetric padding (k-1)/2].
Prep PrepareConv(const Node& n, const std::vector<at::Tensor>& constants) {
  Prep prep;
  prep.tensors.resize(2);
  if (constants.size() > 1 && constants[1].defined())
    prep.tensors[0] = ConvWeight(constants[1], IsDepthwise(n));
  const std::vector<std::string> ops = n.Strings("fused_ops");
  const bool bias_arg = !ops.empty() && ops[0] == "BiasAdd";
  if (bias_arg && constants.size() > 2 && constants[2].defined()) {
    prep.tensors[1] = constants[2].to(at::kFloat).contiguous();
  }
  const at::Tensor& weight = prep.tensors[0];
  const std::optional<Clamp> clamp = XnnpackClamp(ops);
  if (IsDepthwise(n) && weight.defined() && constants[1].size(3) == 1 && clamp &&
      (!bias_arg || prep.tensors[1].defined())) {
    const at::Tensor& f = constants[1];
    prep.tensors.push_back(
        f.to(at::kFloat).reshape({f.size(0), f.size(1), f.size(2)}).contiguous());
  }
  if (!weight.defined() || IsDepthwise(n) || !clamp || (bias_arg && !prep.tensors[1].defined()) ||
      n.String("data_format", "NHWC") != "NHWC") {
    return prep;
  }
  const int64_t k_h = weight.size(2), k_w = weight.size(3);
  const Window w = ReadWindow(n, k_h, k_w, k_h, k_w);  // strides and dilations only
  if (w.dilation_h != 1 || w.dilation_w != 1) return prep;
  auto pack = [&](int64_t pad_h, int64_t pad_w) {
    return PackXnnpackConv(weight, prep.tensors[1], w.stride_h, w.stride_w, pad_h, pad_w, 1,
                           clamp->min, clamp->max);
  };
  std::optional<c10::IValue> unpadded = pack(0, 0);
  if (!unpadded) return prep;  // libtorch without XNNPACK
  prep.packed.push_back(std::move(*unpadded));
  if (n.String("padding", "VALID") == "SAME" && (k_h > 1 || k_w > 1)) {
    prep.packed.push_back(*pack((k_h - 1) / 2, (k_w - 1) / 2));
  }
  return prep;
}

// The packed context for `w`'s padding: the unpadded one (the input padded first when the
// padding is not one the contexts have), or nullptr when the conv has none.
const c10::IValue* XnnpackContext(const Prep& prep, const Window& w, int64_t k_h, int64_t k_w,
                                  bool& pad_input) {
  pad_input = false;
  if (prep.packed.empty()) return nullptr;
  if (w.top == 0 && w.bottom == 0 && w.left == 0 && w.right == 0) return &prep.packed[0];
  if (prep.packed.size() > 1 && w.top == w.bottom && w.left == w.right &&
      w.top == (k_h - 1) / 2 && w.left == (k_w - 1) / 2) {
    return &prep.packed[1];
  }
  pad_input = true;
  return &prep.packed[0];
}

std::vector<Value> Conv(const Node& n, const Args& in, const Prep& prep) {
  const at::Tensor& x = TensorArg(n, in, 0);
  const at::Tensor& filter = TensorArg(n, in, 1);
  const bool depthwise = IsDepthwise(n);
  const at::Tensor weight =
      prep.tensors.size() > 0 && prep.tensors[0].defined() ? prep.tensors[0]
                                                           : ConvWeight(filter, depthwise);
  if (x.dim() != 4) Fail("expects a rank-4 NHWC input");
  const int64_t channels = x.size(3);
  if (depthwise ? filter.size(2) != channels : filter.size(2) != channels) {
    Fail("input has " + std::to_string(channels) + " channels, the filter expects " +
         std::to_string(filter.size(2)));
  }
  const Window w = ReadWindow(n, x.size(1), x.size(2), filter.size(0), filter.size(1));
  if (depthwise && prep.tensors.size() > 2 && w.dilation_h == 1 && w.dilation_w == 1) {
    // ~2.5x faster than oneDNN's channels-last depthwise + the activation pass here.
    DepthwiseWindow dw;
    dw.kernel_h = filter.size(0);
    dw.kernel_w = filter.size(1);
    dw.stride_h = w.stride_h;
    dw.stride_w = w.stride_w;
    dw.top = w.top;
    dw.left = w.left;
    dw.out_h = (x.size(1) + w.top + w.bottom - dw.kernel_h) / w.stride_h + 1;
    dw.out_w = (x.size(2) + w.left + w.right - dw.kernel_w) / w.stride_w + 1;
    if (dw.out_h <= 0 || dw.out_w <= 0) Fail("the input is smaller than the filter");
    const std::optional<Clamp> clamp = XnnpackClamp(n.Strings("fused_ops"));
    return One(DepthwiseNhwc(x.to(at::kFloat).contiguous(), prep.tensors[2], prep.tensors[1], dw,
                             clamp->min, clamp->max));
  }
  at::Tensor xin = NchwView(x);
  bool pad_input = false;
  if (const c10::IValue* packed =
          XnnpackContext(prep, w, filter.size(0), filter.size(1), pad_input)) {
    return One(NhwcView(RunXnnpackConv(*packed, pad_input ? PadChannelsLast(xin, w, 0.0) : xin)));
  }
  int64_t pad_h = w.top, pad_w = w.left;
  if (w.top != w.bottom || w.left != w.right) {
    xin = PadChannelsLast(xin, w, 0.0);
    pad_h = pad_w = 0;
  }
  const bool fused_bias = prep.tensors.size() > 1 && prep.tensors[1].defined();
  std::vector<at::Tensor> args;
  for (size_t i = 2; i < in.size(); ++i) args.push_back(TensorArg(n, in, i).to(at::kFloat));
  at::Tensor y =
      at::conv2d(xin, weight, fused_bias ? prep.tensors[1] : at::Tensor(), {w.stride_h, w.stride_w},
                 {pad_h, pad_w}, {w.dilation_h, w.dilation_w}, depthwise ? channels : 1);
  y = ApplyFused(n, y, args, /*nchw=*/true, fused_bias);
  return One(NhwcView(y));
}

std::vector<Value> Pool(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& x = TensorArg(n, in, 0);
  const std::vector<int64_t> k = n.Ints("ksize");
  if (k.size() != 4 || k[0] != 1 || k[3] != 1) Fail("ksize must be [1, kh, kw, 1]");
  if (x.dim() != 4) Fail("expects a rank-4 NHWC input");
  const Window w = ReadWindow(n, x.size(1), x.size(2), k[1], k[2]);
  const at::Tensor xin = NchwView(x);
  at::Tensor y;
  if (n.op == "MaxPool") {
    const at::Tensor padded = PadChannelsLast(xin, w, -std::numeric_limits<double>::infinity());
    y = at::max_pool2d(padded, {k[1], k[2]}, {w.stride_h, w.stride_w});
  } else {  // AvgPool: the padding is not counted
    const at::Tensor padded = at::constant_pad_nd(xin, {w.left, w.right, w.top, w.bottom}, 0.0);
    const at::Tensor ones = at::constant_pad_nd(at::ones({1, 1, x.size(1), x.size(2)}),
                                                {w.left, w.right, w.top, w.bottom}, 0.0);
    const at::Tensor sum = at::avg_pool2d(padded, {k[1], k[2]}, {w.stride_h, w.stride_w});
    const at::Tensor count = at::avg_pool2d(ones, {k[1], k[2]}, {w.stride_h, w.stride_w});
    y = sum / count;
  }
  return One(NhwcView(y));
}

Prep PrepareMatMul(const Node& n, const std::vector<at::Tensor>& constants) {
  Prep prep;
  prep.tensors.resize(1);
  if (constants.size() > 1 && constants[1].defined()) {
    at::Tensor b = constants[1].to(at::kFloat);
    prep.tensors[0] = (n.Bool("transpose_b", false) ? b.t() : b).contiguous();
  }
  return prep;
}

std::vector<Value> MatMul(const Node& n, const Args& in, const Prep& prep) {
  at::Tensor a = TensorArg(n, in, 0);
  if (n.Bool("transpose_a", false) || n.Bool("adj_x", false)) a = a.transpose(-1, -2);
  at::Tensor b;
  if (prep.tensors.size() > 0 && prep.tensors[0].defined()) {
    b = prep.tensors[0];
  } else {
    b = TensorArg(n, in, 1);
    if (n.Bool("transpose_b", false) || n.Bool("adj_y", false)) b = b.transpose(-1, -2);
  }
  at::Tensor y = at::matmul(a.to(at::kFloat), b.to(at::kFloat));
  std::vector<at::Tensor> args;
  for (size_t i = 2; i < in.size(); ++i) args.push_back(TensorArg(n, in, i).to(at::kFloat));
  return One(ApplyFused(n, y, args, /*nchw=*/false, /*bias_done=*/false));
}

// Sorted by value descending, ties by lower index, as tfjs's topk does.
std::vector<Value> TopK(const Node& n, const Args& in, const Prep&) {
  const at::Tensor x = TensorArg(n, in, 0).contiguous();
  const int64_t k = ScalarInt(TensorArg(n, in, 1));
  if (x.dim() < 1) Fail("input must have rank >= 1");
  const int64_t last = x.size(-1);
  if (k < 0 || k > last)
    Fail("k = " + std::to_string(k) + " out of range [0, " + std::to_string(last) + "]");
  const int64_t rows = last == 0 ? 0 : x.numel() / last;
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = k;
  const at::Tensor xf = x.to(at::kDouble).contiguous();
  const double* data = xf.data_ptr<double>();
  at::Tensor values = at::empty(shape, x.options());
  at::Tensor indices = at::empty(shape, at::kInt);
  at::Tensor values_d = at::empty({rows, k}, at::kDouble);
  int32_t* idx_out = indices.data_ptr<int32_t>();
  double* val_out = values_d.data_ptr<double>();
  std::vector<int32_t> order(static_cast<size_t>(last));
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = data + r * last;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [row](int32_t a, int32_t b) {
      return row[a] > row[b] || (row[a] == row[b] && a < b);
    });
    for (int64_t j = 0; j < k; ++j) {
      idx_out[r * k + j] = order[static_cast<size_t>(j)];
      val_out[r * k + j] = row[order[static_cast<size_t>(j)]];
    }
  }
  values.copy_(values_d.reshape(shape));
  return {Value::Of(values), Value::Of(indices)};
}

}  // namespace

void AddNnKernels(KernelMap& m) {
  for (const char* op :
       {"Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"}) {
    m[op] = {Conv, PrepareConv};
  }
  m["MaxPool"] = {Pool};
  m["AvgPool"] = {Pool};
  m["MatMul"] = {MatMul, PrepareMatMul};
  m["_FusedMatMul"] = {MatMul, PrepareMatMul};
  m["BatchMatMulV2"] = {MatMul};
  m["TopKV2"] = {TopK};
}

}  // namespace farm::pose::internal
