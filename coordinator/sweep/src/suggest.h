// "Did you mean" suggestions for misspelled keys and values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/suggest.h"

namespace farm::sweep {

using farm::ClosestMatch;   // farm/schemas/suggest.h
using farm::EditDistance;

// "; did you mean 'X'?" or "" when there is no close candidate.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// "a, b, c" for messages.
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace farm::sweep
