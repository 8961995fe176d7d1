// Canonical JSON: the byte form whose SHA-256 names a parameter record.
//
// Rules (pinned by tests; changing them changes every param_hash):
// - object keys sorted by their UTF-8 bytes; no whitespace anywhere;
// - strings as UTF-8, escaping only '"', '\\' and control characters below 0x20
//   (\b \f \n \r \t short forms, otherwise \u00XX lower-case hex);
// - a number with an integral value and magnitude below 2^53 is written as an integer
//   ("7", never "7.0" or "7e0"); -0 is written as 0;
// - any other number is written in the shortest form that reads back to the same double
//   (C++ std::to_chars), e.g. 0.35, 1e-07, 1.5e+20;
// - NaN and infinities are refused (they have no JSON form).
#pragma once

#include <string>
#include <string_view>

#include "farm/schemas/status.h"

namespace farm {

// Re-emits any JSON text in canonical form. InvalidArgument on malformed JSON or on
// non-finite numbers.
StatusOr<std::string> CanonicalizeJson(std::string_view json_text);

// The canonical spelling of one number.
StatusOr<std::string> CanonicalNumber(double value);

}  // namespace farm
