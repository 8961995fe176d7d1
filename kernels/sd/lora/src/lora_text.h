// Small helpers the LoRA reader and merger share for checks and messages.
#pragma once

#include <string>

#include <ATen/ATen.h>

namespace farm::sd {

// "[320, 4, 1, 1]".
std::string ShapeText(at::IntArrayRef shape);

// The floating-point types a LoRA tensor or a model weight may have.
bool IsLoraFloatType(at::ScalarType type);

}  // namespace farm::sd
