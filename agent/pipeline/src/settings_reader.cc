#include "settings_reader.h"

#include <cmath>

namespace farm::pipeline {

SettingsReader::SettingsReader(std::string stage, const farm::Settings& settings)
    : stage_(std::move(stage)), settings_(settings) {}

bool SettingsReader::Has(const std::string& key) {
  known_.insert(key);
  return settings_.count(key) != 0;
}

StatusOr<double> SettingsReader::Number(const std::string& key, double fallback, double min,
                                        double max) {
  known_.insert(key);
  double value = fallback;
  auto it = settings_.find(key);
  if (it != settings_.end()) {
    if (const auto* d = std::get_if<double>(&it->second)) {
      value = *d;
    } else if (const auto* i = std::get_if<std::int64_t>(&it->second)) {
      value = static_cast<double>(*i);
    } else {
      return InvalidArgument(stage_ + ": setting '" + key + "' must be a number");
    }
  }
  if (!std::isfinite(value) || value < min || value > max) {
    return InvalidArgument(stage_ + ": setting '" + key + "' = " + std::to_string(value) +
                           " is outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  applied_[key] = value;
  return value;
}

StatusOr<int> SettingsReader::Int(const std::string& key, int fallback, int min, int max) {
  known_.insert(key);
  std::int64_t value = fallback;
  auto it = settings_.find(key);
  if (it != settings_.end()) {
    if (const auto* i = std::get_if<std::int64_t>(&it->second)) {
      value = *i;
    } else if (const auto* d = std::get_if<double>(&it->second);
               d != nullptr && std::floor(*d) == *d && std::abs(*d) < 1e9) {
      value = static_cast<std::int64_t>(*d);
    } else {
      return InvalidArgument(stage_ + ": setting '" + key + "' must be an integer");
    }
  }
  if (value < min || value > max) {
    return InvalidArgument(stage_ + ": setting '" + key + "' = " + std::to_string(value) +
                           " is outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  applied_[key] = value;
  return static_cast<int>(value);
}

StatusOr<std::string> SettingsReader::String(const std::string& key, const std::string& fallback,
                                             const std::vector<std::string>& choices) {
  known_.insert(key);
  std::string value = fallback;
  auto it = settings_.find(key);
  if (it != settings_.end()) {
    const auto* s = std::get_if<std::string>(&it->second);
    if (s == nullptr) return InvalidArgument(stage_ + ": setting '" + key + "' must be a string");
    value = *s;
  }
  if (!choices.empty()) {
    bool found = false;
    std::string list;
    for (const std::string& c : choices) {
      found = found || c == value;
      list += (list.empty() ? "" : ", ") + c;
    }
    if (!found) {
      return InvalidArgument(stage_ + ": setting '" + key + "' = '" + value + "'; expected one of: " + list);
    }
  }
  applied_[key] = value;
  return value;
}

Status SettingsReader::Finish() const {
  for (const auto& [key, value] : settings_) {
    if (known_.count(key) == 0) return InvalidArgument(stage_ + ": unknown setting '" + key + "'");
  }
  return Status::Ok();
}

}  // namespace farm::pipeline
