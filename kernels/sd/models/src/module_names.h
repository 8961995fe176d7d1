// Module paths of a model's weights: every key ending in ".weight" without that suffix,
// the names LoRA files are mapped onto.
#pragma once

#include <string>
#include <vector>

#include "farm/sd/tensor_map.h"

namespace farm::sd {

std::vector<std::string> WeightModuleNames(const TensorMap& weights);

}  // namespace farm::sd
