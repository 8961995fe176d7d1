// What flows along a graph edge: a tensor, or a TensorList (TF's variant list used by
// `map`/while loops). TensorLists have value semantics: SetItem returns a new list.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <vector>

namespace farm::pose::internal {

struct TensorList {
  std::vector<std::optional<at::Tensor>> items;  // nullopt: reserved, never set
  std::vector<int64_t> element_shape;            // -1 for unknown dims; empty + unknown_rank
  bool unknown_rank = true;
  at::ScalarType dtype = at::kFloat;
};

struct Value {
  at::Tensor tensor;
  std::shared_ptr<const TensorList> list;

  bool is_list() const { return list != nullptr; }
  static Value Of(at::Tensor t) { return Value{std::move(t), nullptr}; }
  static Value Of(std::shared_ptr<const TensorList> l) { return Value{at::Tensor(), std::move(l)}; }
};

}  // namespace farm::pose::internal
