#include "weight_spec.h"

#include <charconv>
#include <sstream>

namespace farm::sd {

std::string ShapeToString(at::IntArrayRef shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

void WeightSpec::Add(const std::string& name, Shape shape) {
  expected_[name] = {std::move(shape)};
}

void WeightSpec::AddAnyOf(const std::string& name, std::vector<Shape> shapes) {
  expected_[name] = std::move(shapes);
}

void WeightSpec::AddLinear(const std::string& prefix, int64_t in, int64_t out, bool bias) {
  Add(prefix + ".weight", {out, in});
  if (bias) Add(prefix + ".bias", {out});
}

void WeightSpec::AddConv(const std::string& prefix, int64_t in, int64_t out, int64_t kernel) {
  Add(prefix + ".weight", {out, in, kernel, kernel});
  Add(prefix + ".bias", {out});
}

void WeightSpec::AddNorm(const std::string& prefix, int64_t channels) {
  Add(prefix + ".weight", {channels});
  Add(prefix + ".bias", {channels});
}

Status WeightSpec::Check(const TensorMap& weights, const std::string& component) const {
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, shapes] : expected_) {
    auto it = weights.find(name);
    if (it == weights.end()) {
      missing.push_back(name);
      continue;
    }
    const at::Tensor& tensor = it->second;
    if (!tensor.defined()) {
      missing.push_back(name + " (undefined tensor)");
      continue;
    }
    bool fits = false;
    for (const Shape& shape : shapes) fits = fits || tensor.sizes() == at::IntArrayRef(shape);
    if (!fits) {
      std::string wanted;
      for (size_t i = 0; i < shapes.size(); ++i) wanted += (i ? " or " : "") + ShapeToString(shapes[i]);
      mismatched.push_back(name + ": expected shape " + wanted + ", found " +
                           ShapeToString(tensor.sizes()));
    } else if (!at::isFloatingType(tensor.scalar_type())) {
      mismatched.push_back(name + ": expected a floating point tensor, found " +
                           std::string(c10::toString(tensor.scalar_type())));
    }
  }
  for (const auto& [name, tensor] : weights) {
    if (!expected_.count(name)) unexpected.push_back(name);
  }
  if (missing.empty() && unexpected.empty() && mismatched.empty()) return Status::Ok();

  std::string message = component + " weights do not match the model they describe";
  auto list = [&message](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    message += "; " + std::to_string(names.size()) + " " + what + ": ";
    for (size_t i = 0; i < names.size(); ++i) message += (i ? ", " : "") + names[i];
  };
  list("missing", missing);
  list("unexpected", unexpected);
  list("mis-shaped", mismatched);
  return InvalidArgument(message);
}

std::optional<Shape> ShapeOf(const TensorMap& weights, const std::string& name) {
  auto it = weights.find(name);
  if (it == weights.end() || !it->second.defined()) return std::nullopt;
  return it->second.sizes().vec();
}

int64_t CountChildren(const TensorMap& weights, const std::string& prefix) {
  int64_t count = 0;
  for (auto it = weights.lower_bound(prefix); it != weights.end(); ++it) {
    const std::string& key = it->first;
    if (key.compare(0, prefix.size(), prefix) != 0) break;
    const char* begin = key.data() + prefix.size();
    const char* end = key.data() + key.size();
    int64_t index = 0;
    auto [next, error] = std::from_chars(begin, end, index);
    if (error != std::errc() || next == begin || next == end || *next != '.') continue;
    count = std::max(count, index + 1);
  }
  return count;
}

bool HasPrefix(const TensorMap& weights, const std::string& prefix) {
  auto it = weights.lower_bound(prefix);
  return it != weights.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

StatusOr<int64_t> DimOf(const TensorMap& weights, const std::string& component,
                        const std::string& name, int64_t dim) {
  std::optional<Shape> shape = ShapeOf(weights, name);
  if (!shape) return InvalidArgument(component + " weights: missing " + name + " (it sizes the model)");
  if (static_cast<int64_t>(shape->size()) <= dim) {
    return InvalidArgument(component + " weights: " + name + " has shape " + ShapeToString(*shape) +
                           ", expected at least " + std::to_string(dim + 1) + " dimensions");
  }
  return (*shape)[dim];
}

}  // namespace farm::sd
