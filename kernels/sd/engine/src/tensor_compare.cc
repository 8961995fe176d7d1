#include "farm/sd/tensor_compare.h"

#include <sstream>

namespace farm::sd {
namespace {

std::string ShapeText(const at::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

bool SameShape(const at::Tensor& a, const at::Tensor& b, TensorComparison& c) {
  c.shapes_match = a.sizes() == b.sizes();
  if (!c.shapes_match) c.shape_note = ShapeText(a) + " vs " + ShapeText(b);
  return c.shapes_match;
}

}  // namespace

TensorComparison CompareToReference(const std::string& name, const at::Tensor& actual,
                                    const at::Tensor& expected, double tolerance) {
  TensorComparison c;
  c.name = name;
  c.tolerance = tolerance;
  if (!SameShape(actual, expected, c)) return c;
  at::Tensor a = actual.detach().to(at::kCPU, at::kDouble);
  at::Tensor e = expected.detach().to(at::kCPU, at::kDouble);
  if (a.numel() == 0) {
    c.passed = true;
    return c;
  }
  c.max_abs = (a - e).abs().max().item<double>();
  c.scale = e.abs().max().item<double>();
  c.max_rel = c.scale > 0 ? c.max_abs / c.scale : c.max_abs;
  // NaN compares false, so a NaN anywhere fails.
  c.passed = c.max_rel <= tolerance;
  return c;
}

TensorComparison CompareAbsolute(const std::string& name, const at::Tensor& actual,
                                 const at::Tensor& expected, double atol) {
  TensorComparison c = CompareToReference(name, actual, expected, 0);
  c.tolerance = atol;
  c.limit = "abs";
  c.passed = c.shapes_match && c.max_abs <= atol;
  return c;
}

TensorComparison CompareUint8(const std::string& name, const at::Tensor& actual,
                              const at::Tensor& expected, int max_step) {
  TensorComparison c;
  c.name = name;
  c.tolerance = max_step;
  c.limit = "levels";
  if (!SameShape(actual, expected, c)) return c;
  at::Tensor diff = (actual.to(at::kCPU, at::kInt) - expected.to(at::kCPU, at::kInt)).abs();
  c.max_abs = diff.numel() ? diff.max().item<int>() : 0;
  c.scale = 255;
  c.max_rel = c.max_abs;
  c.passed = c.max_abs <= max_step;
  return c;
}

}  // namespace farm::sd
