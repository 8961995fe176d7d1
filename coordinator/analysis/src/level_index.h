// Rows of a column mapped to the index of their value in OrderedLevels order, so that
// effects and two-way tables group 100k rows with one hash look-up each.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "farm/analysis/scored_table.h"

namespace farm::analysis {

struct LevelIndex {
  std::vector<std::string> levels;         // OrderedLevels(column)
  std::vector<std::uint32_t> row_level;    // one per row: index into levels
};

inline LevelIndex IndexLevels(const std::vector<std::string>& column) {
  LevelIndex out;
  out.levels = OrderedLevels(column);
  std::unordered_map<std::string_view, std::uint32_t> position;
  position.reserve(out.levels.size());
  for (std::uint32_t i = 0; i < out.levels.size(); ++i) position.emplace(out.levels[i], i);
  out.row_level.reserve(column.size());
  for (const std::string& v : column) out.row_level.push_back(position.at(v));
  return out;
}

}  // namespace farm::analysis
