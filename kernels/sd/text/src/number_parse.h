// Decimal numbers as prompts write them ("0.8", "-1", ".5", "+1.2"), parsed without the
// C locale's say on the decimal point.
#pragma once

#include <charconv>
#include <cmath>
#include <string_view>

namespace farm::sd {

// True when all of `text` is one finite decimal number (an exponent is allowed).
inline bool ParseDecimal(std::string_view text, double& value) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return false;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value, std::chars_format::general);
  return ec == std::errc() && ptr == end && std::isfinite(value);
}

}  // namespace farm::sd
