// The set of weights a model expects (name -> shape), built from the structure the
// model read off its tensor shapes, and the check that a TensorMap matches it exactly:
// missing, unexpected and mis-shaped tensors are all reported in one error.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

using Shape = std::vector<int64_t>;

std::string ShapeToString(at::IntArrayRef shape);

class WeightSpec {
 public:
  // A tensor of exactly this shape.
  void Add(const std::string& name, Shape shape);
  // A tensor of any of these shapes (e.g. a linear stored as a 1x1 conv).
  void AddAnyOf(const std::string& name, std::vector<Shape> shapes);
  // weight [out, in] + bias [out].
  void AddLinear(const std::string& prefix, int64_t in, int64_t out, bool bias = true);
  // weight [out, in, k, k] + bias [out].
  void AddConv(const std::string& prefix, int64_t in, int64_t out, int64_t kernel);
  // weight [channels] + bias [channels] (GroupNorm, LayerNorm).
  void AddNorm(const std::string& prefix, int64_t channels);

  // OK when `weights` holds exactly these names with these shapes, all floating point.
  // Otherwise one InvalidArgument listing every problem, each with the tensor's name.
  Status Check(const TensorMap& weights, const std::string& component) const;

 private:
  std::map<std::string, std::vector<Shape>> expected_;
};

// The shape of `name`, or nullopt when absent.
std::optional<Shape> ShapeOf(const TensorMap& weights, const std::string& name);

// How many numbered children `prefix` has: 1 + the largest N of keys "<prefix>N.<...>";
// 0 when there are none.
int64_t CountChildren(const TensorMap& weights, const std::string& prefix);

// True when some key starts with `prefix`.
bool HasPrefix(const TensorMap& weights, const std::string& prefix);

// Reads dimension `dim` of the tensor `name`, or explains which tensor is missing or
// too small to size the model.
StatusOr<int64_t> DimOf(const TensorMap& weights, const std::string& component,
                        const std::string& name, int64_t dim);

}  // namespace farm::sd
