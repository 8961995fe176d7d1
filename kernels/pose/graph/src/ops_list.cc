// TensorList ops (TF's list variant behind tf.map_fn / TensorArray in while loops). Lists
// are values: SetItem returns a new list and leaves its input as it was.
#include "kernel.h"

namespace farm::pose::internal {
namespace {

using Args = std::vector<Value>;
using Prep = Prepared;

const TensorList& ListArg(const Args& in, size_t i) {
  if (i >= in.size() || !in[i].is_list())
    Fail("input " + std::to_string(i) + " must be a TensorList");
  return *in[i].list;
}

void SetElementShape(TensorList& list, const at::Tensor& shape) {
  list.element_shape = IntValues(shape);
  list.unknown_rank =
      shape.dim() == 0 && list.element_shape.size() == 1 && list.element_shape[0] == -1;
  if (list.unknown_rank) list.element_shape.clear();
}

bool FullyKnown(const TensorList& list) {
  if (list.unknown_rank) return false;
  for (int64_t d : list.element_shape)
    if (d < 0) return false;
  return true;
}

void CheckShape(const TensorList& list, const at::Tensor& item) {
  if (list.unknown_rank) return;
  if (static_cast<int64_t>(list.element_shape.size()) != item.dim())
    Fail("item rank does not match the list's element shape");
  for (size_t d = 0; d < list.element_shape.size(); ++d) {
    if (list.element_shape[d] >= 0 && list.element_shape[d] != item.size(static_cast<int64_t>(d))) {
      Fail("item shape does not match the list's element shape");
    }
  }
}

int64_t Index(const TensorList& list, const at::Tensor& t) {
  const int64_t i = ScalarInt(t);
  if (i < 0 || i >= static_cast<int64_t>(list.items.size())) {
    Fail("index " + std::to_string(i) + " out of range for a list of " +
         std::to_string(list.items.size()));
  }
  return i;
}

std::vector<Value> Reserve(const Node& n, const Args& in, const Prep&) {
  auto list = std::make_shared<TensorList>();
  SetElementShape(*list, TensorArg(n, in, 0));
  const int64_t count = ScalarInt(TensorArg(n, in, 1));
  if (count < 0) Fail("negative num_elements");
  list->items.resize(static_cast<size_t>(count));
  list->dtype = ToScalarType(n.Type("element_dtype", DataType::kFloat), n);
  return {Value::Of(std::shared_ptr<const TensorList>(list))};
}

std::vector<Value> FromTensor(const Node& n, const Args& in, const Prep&) {
  const at::Tensor& t = TensorArg(n, in, 0);
  if (t.dim() < 1) Fail("tensor must have rank >= 1");
  auto list = std::make_shared<TensorList>();
  SetElementShape(*list, TensorArg(n, in, 1));
  list->dtype = t.scalar_type();
  for (const at::Tensor& item : at::unbind(t, 0)) {
    CheckShape(*list, item);
    list->items.emplace_back(item);
  }
  return {Value::Of(std::shared_ptr<const TensorList>(list))};
}

at::Tensor Item(const TensorList& list, int64_t i) {
  const auto& item = list.items[static_cast<size_t>(i)];
  if (item) return *item;
  if (!FullyKnown(list))
    Fail("item " + std::to_string(i) + " was never set and the element shape is not fully known");
  return at::zeros(list.element_shape, list.dtype);
}

std::vector<Value> GetItem(const Node& n, const Args& in, const Prep&) {
  const TensorList& list = ListArg(in, 0);
  return One(Item(list, Index(list, TensorArg(n, in, 1))));
}

std::vector<Value> SetItem(const Node& n, const Args& in, const Prep&) {
  const TensorList& list = ListArg(in, 0);
  const int64_t i = Index(list, TensorArg(n, in, 1));
  const at::Tensor& item = TensorArg(n, in, 2);
  CheckShape(list, item);
  auto updated = std::make_shared<TensorList>(list);
  updated->items[static_cast<size_t>(i)] = item;
  return {Value::Of(std::shared_ptr<const TensorList>(updated))};
}

std::vector<Value> Stack(const Node& n, const Args& in, const Prep&) {
  const TensorList& list = ListArg(in, 0);
  const int64_t expected = n.Int("num_elements", -1);
  if (expected >= 0 && expected != static_cast<int64_t>(list.items.size())) {
    Fail("list holds " + std::to_string(list.items.size()) + " items, num_elements says " +
         std::to_string(expected));
  }
  if (list.items.empty()) {
    if (!FullyKnown(list))
      Fail("cannot stack an empty list whose element shape is not fully known");
    std::vector<int64_t> shape = {0};
    shape.insert(shape.end(), list.element_shape.begin(), list.element_shape.end());
    return One(at::zeros(shape, list.dtype));
  }
  std::vector<at::Tensor> items;
  for (size_t i = 0; i < list.items.size(); ++i)
    items.push_back(Item(list, static_cast<int64_t>(i)));
  return One(at::stack(items, 0));
}

std::vector<Value> Length(const Node&, const Args& in, const Prep&) {
  return One(at::scalar_tensor(static_cast<int32_t>(ListArg(in, 0).items.size()), at::kInt));
}

}  // namespace

void AddListKernels(KernelMap& m) {
  m["TensorListReserve"] = {Reserve};
  m["TensorListFromTensor"] = {FromTensor};
  m["TensorListGetItem"] = {GetItem};
  m["TensorListSetItem"] = {SetItem};
  m["TensorListStack"] = {Stack};
  m["TensorListLength"] = {Length};
}

}  // namespace farm::pose::internal
