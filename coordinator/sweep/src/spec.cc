#include "farm/sweep/spec.h"

#include "yaml_reader.h"

namespace farm::sweep {
namespace {

std::optional<double> AsNumber(const GridValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

}  // namespace

bool SameGridValue(const GridValue& a, const GridValue& b) {
  auto na = AsNumber(a);
  auto nb = AsNumber(b);
  if (na && nb) return *na == *nb;
  if (na || nb) return false;
  return std::get<std::string>(a) == std::get<std::string>(b);
}

std::string GridValueText(const GridValue& value) {
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  return NumberText(*AsNumber(value));
}

}  // namespace farm::sweep
