#include "farm/analysis/scored_table.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <unordered_set>

namespace farm::analysis {
namespace {

std::optional<double> ParseNumber(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

int ScoredTable::FindParameter(std::string_view name) const {
  for (std::size_t i = 0; i < parameter_names.size(); ++i) {
    if (parameter_names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

void ScoredTable::AddParameter(std::string name, std::vector<std::string> column) {
  parameter_names.push_back(std::move(name));
  values.push_back(std::move(column));
}

Status ScoredTable::Validate() const {
  if (face_found.size() != scores.size()) {
    return InvalidArgument("scored table: " + std::to_string(face_found.size()) +
                           " face_found entries for " + std::to_string(scores.size()) +
                           " scores; expected one per row");
  }
  if (values.size() != parameter_names.size()) {
    return InvalidArgument("scored table: " + std::to_string(values.size()) + " columns for " +
                           std::to_string(parameter_names.size()) + " parameter names");
  }
  std::set<std::string_view> seen;
  for (std::size_t p = 0; p < values.size(); ++p) {
    if (!seen.insert(parameter_names[p]).second) {
      return InvalidArgument("scored table: parameter '" + parameter_names[p] + "' appears twice");
    }
    if (values[p].size() != scores.size()) {
      return InvalidArgument("scored table: parameter '" + parameter_names[p] + "' has " +
                             std::to_string(values[p].size()) + " values for " +
                             std::to_string(scores.size()) + " rows");
    }
  }
  return Status::Ok();
}

std::vector<std::string> OrderedLevels(const std::vector<std::string>& column) {
  std::unordered_set<std::string_view> distinct(column.begin(), column.end());
  struct Keyed {
    std::optional<double> number;
    std::string text;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(distinct.size());
  for (std::string_view v : distinct) keyed.push_back({ParseNumber(std::string(v)), std::string(v)});
  // Numbers first in numeric order, then text (e.g. "NULL") in text order.
  std::sort(keyed.begin(), keyed.end(), [](const Keyed& x, const Keyed& y) {
    if (x.number.has_value() != y.number.has_value()) return x.number.has_value();
    if (x.number && *x.number != *y.number) return *x.number < *y.number;
    return x.text < y.text;
  });
  std::vector<std::string> out;
  out.reserve(keyed.size());
  for (auto& k : keyed) out.push_back(std::move(k.text));
  return out;
}

}  // namespace farm::analysis
