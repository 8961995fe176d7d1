#include "name_rules.h"

#include <charconv>

namespace farm::sd::name_rules {

bool KeyReader::Take(std::string_view prefix) {
  if (!rest_.starts_with(prefix)) return false;
  rest_.remove_prefix(prefix.size());
  return true;
}

std::optional<int> KeyReader::TakeIndex() {
  if (rest_.empty() || rest_[0] < '0' || rest_[0] > '9') return std::nullopt;
  int value = 0;
  auto [end, ec] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), value);
  if (ec != std::errc() || end == rest_.data() + rest_.size() || *end != '.' ||
      (rest_[0] == '0' && end - rest_.data() > 1)) {
    return std::nullopt;
  }
  rest_.remove_prefix(end - rest_.data() + 1);
  return value;
}

std::optional<std::string> KeyReader::Param() const {
  if (rest_ == "weight" || rest_ == "bias") return std::string(rest_);
  return std::nullopt;
}

std::string Str(int value) { return std::to_string(value); }

std::optional<std::string> RenameLayer(KeyReader& key, const Renames& names) {
  for (const auto& [from, to] : names) {
    if (key.Take(from)) {
      std::optional<std::string> param = key.Param();
      if (!param) return std::nullopt;
      return std::string(to) + *param;
    }
  }
  return std::nullopt;
}

std::string NameList(const std::vector<std::string>& names, size_t limit) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += ", ... (" + std::to_string(names.size() - limit) + " more)";
  return out;
}

}  // namespace farm::sd::name_rules
