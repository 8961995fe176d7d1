#include "suggest.h"

#include <algorithm>
#include <cctype>

namespace farm::sweep {

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string match = ClosestMatch(word, candidates);
  if (match.empty() || match == word) return "";
  return "; did you mean '" + match + "'?";
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace farm::sweep
