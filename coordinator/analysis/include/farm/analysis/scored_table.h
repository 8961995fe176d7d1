// The input of effects and compare: renders as rows, each with its parameter values (as
// text) and its outcome. Callers fill it from a query (farmctl, report, nightly); the
// analysis never reads a database itself.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::analysis {

// face_found values.
inline constexpr signed char kFaceUnknown = -1;  // not scored yet
inline constexpr signed char kNoFace = 0;
inline constexpr signed char kFace = 1;

struct ScoredTable {
  std::vector<std::string> parameter_names;
  // values[p][row]: the value of parameter_names[p] in that row as text; a missing value
  // is written as "NULL" so it forms its own level.
  std::vector<std::vector<std::string>> values;
  // One per row: the face-ID score (cosine), NaN when the render has none (no face found,
  // or not scored yet). Means only count rows with a score.
  std::vector<double> scores;
  // One per row: kFace, kNoFace or kFaceUnknown. Rates only count rows not kFaceUnknown.
  std::vector<signed char> face_found;

  std::size_t rows() const { return scores.size(); }
  // Index of a parameter by name, or -1.
  int FindParameter(std::string_view name) const;
  // Adds a parameter column (its length must equal rows() once scores are filled).
  void AddParameter(std::string name, std::vector<std::string> column);
  // InvalidArgument when columns disagree in length or names repeat.
  Status Validate() const;
};

// The distinct values of a column in display order: numerically when every value parses
// as a number (so cfg 10 follows cfg 9), otherwise as text.
std::vector<std::string> OrderedLevels(const std::vector<std::string>& column);

}  // namespace farm::analysis
