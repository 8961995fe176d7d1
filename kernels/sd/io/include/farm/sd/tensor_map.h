// The engine's unit of model weights: tensors by name.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace farm::sd {

// Ordered so that anything derived from a map (files, logs, hashes) is deterministic.
using TensorMap = std::map<std::string, at::Tensor>;

}  // namespace farm::sd
