// "Did you mean" for misspelled names (sweep spec keys and values, query columns).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace farm {

// Optimal string alignment distance, case-insensitive (users mistype case as often as
// letters): a swap of two neighbours ("smapler", "gird") costs one edit.
int EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo (one edit
// for words up to 3 letters, else max(2, size / 3)); empty otherwise, and for words over
// 64 bytes. Ties go to the earlier candidate.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace farm
