// Shape and indexing ops (Reshape, StridedSlice, Pack, GatherNd, ...). Shapes travel as
// int32 tensors, as in TF.
#include <algorithm>

#include "kernel.h"

namespace farm::pose::internal {
namespace {

using Args = std::vector<Value>;
using Prep = Prepared;

int64_t NormalizeAxis(int64_t axis, int64_t rank, const char* what) {
  if (axis < -rank || axis >= rank)
    Fail(std::string(what) + " axis " + std::to_string(axis) + " out of range for rank " +
         std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

at::Tensor IntVector(const std::vector<int64_t>& v) {
  std::vector<int32_t> values(v.begin(), v.end());
  return at::tensor(values, at::kInt);
}

std::vector<Value> Reshape(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& x = TensorArg(n, in, 0);
  const std::vector<int64_t> shape = IntValues(TensorArg(n, in, 1));
  return One(x.reshape(shape));
}

std::vector<Value> Shape(const Node& n, const Args& in, const Prep&) {
  return One(IntVector(TensorArg(n, in, 0).sizes().vec()));
}
std::vector<Value> Size(const Node& n, const Args& in, const Prep&) {
  return One(at::scalar_tensor(static_cast<int32_t>(TensorArg(n, in, 0).numel()), at::kInt));
}
std::vector<Value> Rank(const Node& n, const Args& in, const Prep&) {
  return One(at::scalar_tensor(static_cast<int32_t>(TensorArg(n, in, 0).dim()), at::kInt));
}

std::vector<Value> Squeeze(const Node& n, const Args& in, const Prep&) {
  at::Tensor x = TensorArg(n, in, 0);
  std::vector<int64_t> dims = n.Ints("squeeze_dims");
  if (dims.empty()) dims = n.Ints("axis");
  if (dims.empty()) {
    std::vector<int64_t> shape;
    for (int64_t s : x.sizes())
      if (s != 1) shape.push_back(s);
    return One(x.reshape(shape));
  }
  for (int64_t& d : dims) d = NormalizeAxis(d, x.dim(), "Squeeze");
  std::sort(dims.begin(), dims.end());
  for (size_t i = dims.size(); i-- > 0;) {
    if (x.size(dims[i]) != 1)
      Fail("cannot squeeze dimension " + std::to_string(dims[i]) + " of size " +
           std::to_string(x.size(dims[i])));
    x = x.squeeze(dims[i]);
  }
  return One(x);
}

std::vector<Value> ExpandDims(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& x = TensorArg(n, in, 0);
  const int64_t axis = NormalizeAxis(ScalarInt(TensorArg(n, in, 1)), x.dim() + 1, "ExpandDims");
  return One(x.unsqueeze(axis));
}

std::vector<Value> Pack(const Node& n, const Args& in, const Prep&) {
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < in.size(); ++i) parts.push_back(TensorArg(n, in, i));
  if (parts.empty()) Fail("Pack of nothing");
  const int64_t axis = NormalizeAxis(n.Int("axis", 0), parts[0].dim() + 1, "Pack");
  return One(at::stack(parts, axis));
}

std::vector<Value> Unpack(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& x = TensorArg(n, in, 0);
  const int64_t axis = NormalizeAxis(n.Int("axis", 0), x.dim(), "Unpack");
  std::vector<Value> out;
  for (const at::Tensor& t : at::unbind(x, axis)) out.push_back(Value::Of(t));
  return out;
}

std::vector<Value> Concat(const Node& n, const Args& in, const Prep&) {
  if (in.size() < 2) Fail("needs values and an axis");
  const bool v2 = n.op == "ConcatV2";
  const int64_t axis_raw = ScalarInt(TensorArg(n, in, v2 ? in.size() - 1 : 0));
  std::vector<at::Tensor> parts;
  for (size_t i = v2 ? 0 : 1; i < (v2 ? in.size() - 1 : in.size()); ++i)
    parts.push_back(TensorArg(n, in, i));
  return One(at::cat(parts, NormalizeAxis(axis_raw, parts[0].dim(), "Concat")));
}

std::vector<Value> Split(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& x = TensorArg(n, in, 1);
  const int64_t axis = NormalizeAxis(ScalarInt(TensorArg(n, in, 0)), x.dim(), "Split");
  const int64_t parts = n.Int("num_split", 1);
  if (parts <= 0 || x.size(axis) % parts != 0)
    Fail("cannot split size " + std::to_string(x.size(axis)) + " into " + std::to_string(parts));
  std::vector<Value> out;
  for (const at::Tensor& t : at::split(x, x.size(axis) / parts, axis)) out.push_back(Value::Of(t));
  return out;
}

std::vector<Value> SplitV(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& x = TensorArg(n, in, 0);
  std::vector<int64_t> sizes = IntValues(TensorArg(n, in, 1));
  const int64_t axis = NormalizeAxis(ScalarInt(TensorArg(n, in, 2)), x.dim(), "SplitV");
  int64_t known = 0, unknown = -1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0)
      unknown = static_cast<int64_t>(i);
    else
      known += sizes[i];
  }
  if (unknown >= 0) sizes[static_cast<size_t>(unknown)] = x.size(axis) - known;
  std::vector<Value> out;
  for (const at::Tensor& t : at::split_with_sizes(x, sizes, axis)) out.push_back(Value::Of(t));
  return out;
}

std::vector<Value> Slice(const Node& n, const Args& in, const Prep&) {
  at::Tensor x = TensorArg(n, in, 0);
  const std::vector<int64_t> begin = IntValues(TensorArg(n, in, 1));
  const std::vector<int64_t> size = IntValues(TensorArg(n, in, 2));
  if (static_cast<int64_t>(begin.size()) != x.dim() || size.size() != begin.size())
    Fail("begin/size must have one entry per dimension");
  for (int64_t d = 0; d < x.dim(); ++d) {
    const int64_t b = begin[static_cast<size_t>(d)];
    const int64_t s =
        size[static_cast<size_t>(d)] < 0 ? x.size(d) - b : size[static_cast<size_t>(d)];
    if (b < 0 || b + s > x.size(d)) Fail("slice out of range on dimension " + std::to_string(d));
    x = x.narrow(d, b, s);
  }
  return One(x);
}

// TF StridedSlice: masks over the sparse spec, ellipsis expansion, negative strides.
std::vector<Value> StridedSlice(const Node& n, const Args& in, const Prep&) {
  at::Tensor x = TensorArg(n, in, 0);
  const std::vector<int64_t> begin = IntValues(TensorArg(n, in, 1));
  const std::vector<int64_t> end = IntValues(TensorArg(n, in, 2));
  const std::vector<int64_t> strides =
      in.size() > 3 ? IntValues(TensorArg(n, in, 3)) : std::vector<int64_t>(begin.size(), 1);
  if (end.size() != begin.size() || strides.size() != begin.size())
    Fail("begin, end and strides differ in length");
  const int64_t begin_mask = n.Int("begin_mask", 0), end_mask = n.Int("end_mask", 0);
  const int64_t ellipsis_mask = n.Int("ellipsis_mask", 0),
                new_axis_mask = n.Int("new_axis_mask", 0);
  const int64_t shrink_mask = n.Int("shrink_axis_mask", 0);
  const int64_t rank = x.dim();
  const int64_t entries = static_cast<int64_t>(begin.size());

  std::vector<int64_t> plan;  // output dims: input axis, or -1 for a new axis
  int64_t axis = 0;
  bool ellipsis_seen = false;
  for (int64_t i = 0; i < entries; ++i) {
    const int64_t bit = int64_t{1} << i;
    if ((ellipsis_mask & bit) && !ellipsis_seen) {
      ellipsis_seen = true;
      int64_t after = 0;
      for (int64_t j = i + 1; j < entries; ++j)
        after += (new_axis_mask & (int64_t{1} << j)) ? 0 : 1;
      for (; axis < rank - after; ++axis) plan.push_back(axis);
      continue;
    }
    if (new_axis_mask & bit) {
      plan.push_back(-1);
      continue;
    }
    if (axis >= rank)
      Fail("slice spec has more entries than the input's rank " + std::to_string(rank));
    const int64_t size = x.size(axis);
    const int64_t s = strides[static_cast<size_t>(i)];
    if (s == 0) Fail("stride 0");
    int64_t b = begin[static_cast<size_t>(i)], e = end[static_cast<size_t>(i)];
    if (shrink_mask & bit) {
      if (b < 0) b += size;
      if (b < 0 || b >= size)
        Fail("index " + std::to_string(begin[static_cast<size_t>(i)]) + " out of range for size " +
             std::to_string(size));
      x = x.narrow(axis, b, 1);
      ++axis;
      continue;
    }
    int64_t length;
    if (s > 0) {
      b = (begin_mask & bit) ? 0 : std::clamp(b < 0 ? b + size : b, int64_t{0}, size);
      e = (end_mask & bit) ? size : std::clamp(e < 0 ? e + size : e, int64_t{0}, size);
      length = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = (begin_mask & bit) ? size - 1 : std::clamp(b < 0 ? b + size : b, int64_t{-1}, size - 1);
      e = (end_mask & bit) ? -1 : std::clamp(e < 0 ? e + size : e, int64_t{-1}, size - 1);
      length = b > e ? (b - e + (-s) - 1) / (-s) : 0;
    }
    if (length == 0) {
      x = x.narrow(axis, 0, 0);
    } else if (s > 0) {
      x = x.slice(axis, b, b + (length - 1) * s + 1, s);
    } else {
      x = x.index_select(axis, at::arange(b, b + length * s, s, at::kLong).narrow(0, 0, length));
    }
    plan.push_back(axis);
    ++axis;
  }
  for (; axis < rank; ++axis) plan.push_back(axis);
  std::vector<int64_t> shape;
  for (int64_t p : plan) shape.push_back(p < 0 ? 1 : x.size(p));
  return One(x.reshape(shape));
}

std::vector<Value> Tile(const Node& n, const Args& in, const Prep&) {
  return One(TensorArg(n, in, 0).repeat(IntValues(TensorArg(n, in, 1))));
}

std::vector<Value> Fill(const Node& n, const Args& in, const Prep&) {
  const std::vector<int64_t> dims = IntValues(TensorArg(n, in, 0));
  const at::Tensor& value = TensorArg(n, in, 1);
  if (value.numel() != 1) Fail("value must be a scalar");
  return One(at::full(dims, value.reshape({}).item(), value.options()));
}

std::vector<Value> Range(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& start = TensorArg(n, in, 0);
  const at::Tensor& limit = TensorArg(n, in, 1);
  const at::Tensor& delta = TensorArg(n, in, 2);
  if (start.is_floating_point()) {
    return One(
        at::arange(start.item<double>(), limit.item<double>(), delta.item<double>(), at::kDouble)
            .to(at::kFloat));
  }
  const int64_t d = delta.to(at::kLong).item<int64_t>();
  if (d == 0) Fail("delta 0");
  return One(at::arange(start.to(at::kLong).item<int64_t>(), limit.to(at::kLong).item<int64_t>(), d,
                        at::kLong)
                 .to(at::kInt));
}

std::vector<Value> Transpose(const Node& n, const Args& in, const Prep&) {
  return One(TensorArg(n, in, 0).permute(IntValues(TensorArg(n, in, 1))).contiguous());
}

std::vector<Value> GatherV2(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& params = TensorArg(n, in, 0);
  const at::Tensor& indices = TensorArg(n, in, 1);
  const int64_t axis =
      NormalizeAxis(in.size() > 2 ? ScalarInt(TensorArg(n, in, 2)) : 0, params.dim(), "Gather");
  if (n.Int("batch_dims", 0) != 0) Fail("batch_dims other than 0 is not supported");
  const at::Tensor flat = indices.to(at::kLong).reshape({-1});
  if (flat.numel() > 0 &&
      (flat.min().item<int64_t>() < 0 || flat.max().item<int64_t>() >= params.size(axis))) {
    Fail("index out of range [0, " + std::to_string(params.size(axis)) + ")");
  }
  std::vector<int64_t> shape(params.sizes().begin(), params.sizes().begin() + axis);
  for (int64_t s : indices.sizes()) shape.push_back(s);
  for (int64_t d = axis + 1; d < params.dim(); ++d) shape.push_back(params.size(d));
  return One(params.index_select(axis, flat).reshape(shape));
}

std::vector<Value> GatherNd(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& params = TensorArg(n, in, 0);
  const at::Tensor indices = TensorArg(n, in, 1).to(at::kLong);
  if (indices.dim() < 1) Fail("indices must have rank >= 1");
  const int64_t k = indices.size(-1);
  if (k > params.dim()) Fail("index depth " + std::to_string(k) + " exceeds the params rank");
  std::vector<int64_t> strides(static_cast<size_t>(k), 1);
  int64_t outer = 1;
  for (int64_t d = k; d-- > 0;) {
    strides[static_cast<size_t>(d)] = outer;
    outer *= params.size(d);
  }
  const at::Tensor flat_idx = indices.reshape({-1, k});
  for (int64_t d = 0; d < k && flat_idx.size(0) > 0; ++d) {
    const at::Tensor col = flat_idx.select(1, d);
    if (col.min().item<int64_t>() < 0 || col.max().item<int64_t>() >= params.size(d)) {
      Fail("index out of range on dimension " + std::to_string(d));
    }
  }
  const at::Tensor linear = (flat_idx * at::tensor(strides, at::kLong)).sum(1);
  std::vector<int64_t> inner(params.sizes().begin() + k, params.sizes().end());
  std::vector<int64_t> rows_shape = {outer};
  rows_shape.insert(rows_shape.end(), inner.begin(), inner.end());
  const at::Tensor rows = params.reshape(rows_shape).index_select(0, linear);
  std::vector<int64_t> shape(indices.sizes().begin(), indices.sizes().end() - 1);
  shape.insert(shape.end(), inner.begin(), inner.end());
  return One(rows.reshape(shape));
}

std::vector<Value> Pad(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& x = TensorArg(n, in, 0);
  const std::vector<int64_t> p = IntValues(TensorArg(n, in, 1));
  if (static_cast<int64_t>(p.size()) != 2 * x.dim()) Fail("paddings must be [rank, 2]");
  std::vector<int64_t> torch_pad;
  for (int64_t d = x.dim(); d-- > 0;) {
    torch_pad.push_back(p[static_cast<size_t>(2 * d)]);
    torch_pad.push_back(p[static_cast<size_t>(2 * d + 1)]);
  }
  const double value = in.size() > 2 ? TensorArg(n, in, 2).item<double>() : 0.0;
  return One(at::constant_pad_nd(x, torch_pad, value));
}

std::vector<Value> ZerosLike(const Node& n, const Args& in, const Prep&) {
  return One(at::zeros_like(TensorArg(n, in, 0)));
}
std::vector<Value> OnesLike(const Node& n, const Args& in, const Prep&) {
  return One(at::ones_like(TensorArg(n, in, 0)));
}

}  // namespace

void AddArrayKernels(KernelMap& m) {
  m["Reshape"] = {Reshape};
  m["Shape"] = {Shape};
  m["Size"] = {Size};
  m["Rank"] = {Rank};
  m["Squeeze"] = {Squeeze};
  m["ExpandDims"] = {ExpandDims};
  m["Pack"] = {Pack};
  m["Unpack"] = {Unpack};
  m["ConcatV2"] = {Concat};
  m["Concat"] = {Concat};
  m["Split"] = {Split};
  m["SplitV"] = {SplitV};
  m["Slice"] = {Slice};
  m["StridedSlice"] = {StridedSlice};
  m["Tile"] = {Tile};
  m["Fill"] = {Fill};
  m["Range"] = {Range};
  m["Transpose"] = {Transpose};
  m["GatherV2"] = {GatherV2};
  m["GatherNd"] = {GatherNd};
  m["Pad"] = {Pad};
  m["PadV2"] = {Pad};
  m["ZerosLike"] = {ZerosLike};
  m["OnesLike"] = {OnesLike};
}

}  // namespace farm::pose::internal
