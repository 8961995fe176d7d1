// Element-wise and reduction ops: broadcasting as TF (numpy rules), dtypes kept as TF
// keeps them (int32 arithmetic stays int32).
#include <algorithm>

#include <ATen/EmptyTensor.h>
#include <c10/core/CPUAllocator.h>

#include "kernel.h"

namespace farm::pose::internal {
namespace {

const at::Tensor& A(const Node& n, const std::vector<Value>& in) { return TensorArg(n, in, 0); }
const at::Tensor& B(const Node& n, const std::vector<Value>& in) { return TensorArg(n, in, 1); }

// int32 op int32 stays int32 (libtorch would widen some results).
at::Tensor Like(const at::Tensor& result, const at::Tensor& a) {
  return result.scalar_type() == a.scalar_type() ? result : result.to(a.scalar_type());
}

#define BINARY(NAME, EXPR)                                             \
  std::vector<Value> NAME(const Node& n, const std::vector<Value>& in, \
                          const Prepared&) {                           \
    const at::Tensor& a = A(n, in);                                    \
    const at::Tensor& b = B(n, in);                                    \
    return One(EXPR);                                                  \
  }
#define UNARY(NAME, EXPR)                                              \
  std::vector<Value> NAME(const Node& n, const std::vector<Value>& in, \
                          const Prepared&) {                           \
    const at::Tensor& x = A(n, in);                                    \
    return One(EXPR);                                                  \
  }

// Two float tensors of one shape (a residual connection) add into a tensor allocated as
// XNNPACK allocates, so the conv that reads the sum does not copy it first.
at::Tensor AddValues(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat || a.sizes() != b.sizes() ||
      a.dim() != 4) {
    return Like(a + b, a);
  }
  at::Tensor out = at::detail::empty_generic(a.sizes(), c10::GetDefaultMobileCPUAllocator(),
                                             c10::DispatchKeySet(c10::DispatchKey::CPU),
                                             at::kFloat, c10::nullopt);
  return at::add_out(out, a, b);
}

BINARY(Add, AddValues(a, b))
BINARY(Sub, Like(a - b, a))
BINARY(Mul, Like(a* b, a))
BINARY(RealDiv, a.is_floating_point() ? at::div(a, b) : at::div(a, b, "trunc"))
BINARY(FloorDiv, a.is_floating_point() ? at::floor(at::div(a, b)) : Like(at::div(a, b, "floor"), a))
BINARY(FloorMod, Like(at::remainder(a, b), a))
BINARY(Maximum, at::maximum(a, b))
BINARY(Minimum, at::minimum(a, b))
BINARY(SquaredDifference, Like((a - b) * (a - b), a))
BINARY(Pow, Like(at::pow(a, b), a))
BINARY(Equal, at::eq(a, b))
BINARY(NotEqual, at::ne(a, b))
BINARY(Less, at::lt(a, b))
BINARY(LessEqual, at::le(a, b))
BINARY(Greater, at::gt(a, b))
BINARY(GreaterEqual, at::ge(a, b))
BINARY(LogicalAnd, at::logical_and(a, b))
BINARY(LogicalOr, at::logical_or(a, b))

UNARY(Abs, at::abs(x))
UNARY(Neg, at::neg(x))
UNARY(Exp, at::exp(x))
UNARY(Log, at::log(x))
UNARY(Sqrt, at::sqrt(x))
UNARY(Rsqrt, at::rsqrt(x))
UNARY(Square, x* x)
UNARY(Reciprocal, at::reciprocal(x))
UNARY(Sigmoid, at::sigmoid(x))
UNARY(Tanh, at::tanh(x))
UNARY(Relu, at::relu(x))
UNARY(Relu6, at::clamp(x, 0, 6))
UNARY(Elu, at::elu(x))
UNARY(Floor, at::floor(x))
UNARY(Ceil, at::ceil(x))
UNARY(Round, at::round(x))  // half to even, as TF
UNARY(LogicalNot, at::logical_not(x))
UNARY(Softplus, at::softplus(x))

std::vector<Value> LeakyRelu(const Node& n, const std::vector<Value>& in,
                             const Prepared&) {
  return One(at::leaky_relu(A(n, in), n.Float("alpha", 0.2)));
}

std::vector<Value> AddN(const Node& n, const std::vector<Value>& in,
                        const Prepared&) {
  at::Tensor sum = TensorArg(n, in, 0).clone();
  for (size_t i = 1; i < in.size(); ++i) sum.add_(TensorArg(n, in, i));
  return One(sum);
}

std::vector<Value> Cast(const Node& n, const std::vector<Value>& in,
                        const Prepared&) {
  const at::ScalarType to = ToScalarType(n.Type("DstT", DataType::kFloat), n);
  const at::Tensor& x = A(n, in);
  // float -> int truncates toward zero (libtorch's conversion does the same).
  return One(x.scalar_type() == to ? x : x.to(to));
}

std::vector<Value> Select(const Node& n, const std::vector<Value>& in,
                          const Prepared&) {
  at::Tensor cond = TensorArg(n, in, 0).to(at::kBool);
  const at::Tensor& x = TensorArg(n, in, 1);
  const at::Tensor& y = TensorArg(n, in, 2);
  // Select (v1): a vector condition picks whole rows of higher-rank operands.
  if (n.op == "Select" && cond.dim() == 1 && x.dim() > 1) {
    std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
    shape[0] = cond.size(0);
    cond = cond.reshape(shape);
  }
  return One(at::where(cond, x, y));
}

std::vector<int64_t> Axes(const at::Tensor& axes_tensor, int64_t rank) {
  std::vector<int64_t> axes = IntValues(axes_tensor);
  for (int64_t& a : axes) {
    if (a < -rank || a >= std::max<int64_t>(rank, 1))
      Fail("reduction axis " + std::to_string(a) + " out of range");
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

std::vector<Value> Reduce(const Node& n, const std::vector<Value>& in,
                          const Prepared&) {
  const at::Tensor& x = A(n, in);
  const std::vector<int64_t> axes = Axes(B(n, in), x.dim());
  const bool keep = n.Bool("keep_dims", false);
  if (axes.empty() || x.dim() == 0) return One(x.clone());
  at::Tensor r;
  if (n.op == "Sum") {
    r = at::sum(x, axes, keep);
  } else if (n.op == "Mean") {
    r = x.is_floating_point() ? at::mean(x, axes, keep)
                              : at::div(
                                    at::sum(x, axes, keep),
                                    [&] {
                                      int64_t count = 1;
                                      for (int64_t a : axes) count *= x.size(a);
                                      return count;
                                    }(),
                                    "trunc");
  } else if (n.op == "Prod") {
    r = x;
    for (size_t i = axes.size(); i-- > 0;) r = at::prod(r, axes[i], keep);
  } else if (n.op == "Max" || n.op == "Min" || n.op == "All" || n.op == "Any") {
    r = x;
    for (size_t i = axes.size(); i-- > 0;) {
      if (n.op == "Max") r = std::get<0>(at::max(r, axes[i], keep));
      if (n.op == "Min") r = std::get<0>(at::min(r, axes[i], keep));
      if (n.op == "All") r = at::all(r, axes[i], keep);
      if (n.op == "Any") r = at::any(r, axes[i], keep);
    }
  }
  return One(Like(r, x));
}

std::vector<Value> ArgMinMax(const Node& n, const std::vector<Value>& in,
                             const Prepared&) {
  const at::Tensor& x = A(n, in);
  int64_t axis = ScalarInt(B(n, in));
  if (axis < 0) axis += x.dim();
  if (axis < 0 || axis >= x.dim()) Fail("axis out of range");
  // libtorch returns the first extreme index, as TF does.
  const at::Tensor r = n.op == "ArgMax" ? at::argmax(x, axis) : at::argmin(x, axis);
  return One(r.to(at::kInt));
}

}  // namespace

void AddMathKernels(KernelMap& m) {
  m["Add"] = {Add};
  m["AddV2"] = {Add};
  m["BiasAdd"] = {Add};
  m["Sub"] = {Sub};
  m["Mul"] = {Mul};
  m["RealDiv"] = {RealDiv};
  m["Div"] = {RealDiv};
  m["FloorDiv"] = {FloorDiv};
  m["FloorMod"] = {FloorMod};
  m["Maximum"] = {Maximum};
  m["Minimum"] = {Minimum};
  m["SquaredDifference"] = {SquaredDifference};
  m["Pow"] = {Pow};
  m["Equal"] = {Equal};
  m["NotEqual"] = {NotEqual};
  m["Less"] = {Less};
  m["LessEqual"] = {LessEqual};
  m["Greater"] = {Greater};
  m["GreaterEqual"] = {GreaterEqual};
  m["LogicalAnd"] = {LogicalAnd};
  m["LogicalOr"] = {LogicalOr};
  m["LogicalNot"] = {LogicalNot};
  m["Abs"] = {Abs};
  m["Neg"] = {Neg};
  m["Exp"] = {Exp};
  m["Log"] = {Log};
  m["Sqrt"] = {Sqrt};
  m["Rsqrt"] = {Rsqrt};
  m["Square"] = {Square};
  m["Reciprocal"] = {Reciprocal};
  m["Sigmoid"] = {Sigmoid};
  m["Tanh"] = {Tanh};
  m["Relu"] = {Relu};
  m["Relu6"] = {Relu6};
  m["Elu"] = {Elu};
  m["LeakyRelu"] = {LeakyRelu};
  m["Floor"] = {Floor};
  m["Ceil"] = {Ceil};
  m["Round"] = {Round};
  m["Softplus"] = {Softplus};
  m["AddN"] = {AddN};
  m["Cast"] = {Cast};
  m["Select"] = {Select};
  m["SelectV2"] = {Select};
  for (const char* op : {"Sum", "Mean", "Prod", "Max", "Min", "All", "Any"}) m[op] = {Reduce};
  m["ArgMax"] = {ArgMinMax};
  m["ArgMin"] = {ArgMinMax};
}

}  // namespace farm::pose::internal
