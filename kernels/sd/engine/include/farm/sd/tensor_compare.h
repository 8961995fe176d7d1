// Comparing an engine output with a reference tensor the way the parity check reports
// it: the largest absolute difference, and that difference relative to the reference
// tensor's scale (its largest magnitude), which is what the tolerance applies to.
#pragma once

#include <string>

#include <ATen/ATen.h>

namespace farm::sd {

struct TensorComparison {
  std::string name;
  bool shapes_match = false;
  double max_abs = 0;      // max |actual - expected|
  double scale = 0;        // max |expected|
  double max_rel = 0;      // max_abs / scale (max_abs when the reference is all zeros)
  double tolerance = 0;    // the limit
  std::string limit = "rel";  // what the limit applies to: "rel" (max_rel), "abs" (max_abs), "levels"
  bool passed = false;
  std::string shape_note;  // "[2, 4, 8, 8] vs [2, 4, 8]" when shapes differ
};

// Relative-to-scale comparison in double precision.
TensorComparison CompareToReference(const std::string& name, const at::Tensor& actual,
                                    const at::Tensor& expected, double tolerance);

// Passes when max |actual - expected| <= atol (sigmas, exact quantities).
TensorComparison CompareAbsolute(const std::string& name, const at::Tensor& actual,
                                 const at::Tensor& expected, double atol);

// For 8-bit images: passes when no pixel differs by more than `max_step` levels.
TensorComparison CompareUint8(const std::string& name, const at::Tensor& actual,
                              const at::Tensor& expected, int max_step);

}  // namespace farm::sd
