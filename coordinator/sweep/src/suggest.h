// "Did you mean" suggestions for misspelled keys and values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace farm::sweep {

// Edit distance with transpositions, case-insensitive (users mistype case as often as
// letters).
int EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo
// (one edit for words up to 3 letters, else max(2, size / 3)); empty otherwise. Ties go
// to the earlier candidate.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// "; did you mean 'X'?" or "" when there is no close candidate.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// "a, b, c" for messages.
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace farm::sweep
