// ParsePromptAttention: A1111's parse_prompt_attention, token by token in the order of
// its regular expression's alternatives.
#include <string>
#include <string_view>
#include <vector>

#include "farm/sd/prompt.h"
#include "number_parse.h"
#include "unicode_text.h"

namespace farm::sd {
namespace {

constexpr double kRoundMultiplier = 1.1;
constexpr double kSquareMultiplier = 1 / 1.1;
constexpr std::string_view kBreak = "BREAK";
constexpr double kBreakWeight = -1.0;  // A1111 marks BREAK entries with weight -1

struct Entry {
  std::string text;
  double weight;
};

bool IsSpaceAt(std::string_view text, size_t pos, size_t& length) {
  const unicode::DecodedChar ch = unicode::DecodeAt(text, pos);
  length = ch.length;
  return ch.valid && unicode::IsSpace(ch.code_point);
}

bool IsWordCharAt(std::string_view text, size_t pos) {
  const unicode::DecodedChar ch = unicode::DecodeAt(text, pos);
  return ch.valid && unicode::IsWordChar(ch.code_point);
}

size_t PreviousCharStart(std::string_view text, size_t pos) {
  size_t start = pos - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

// re.split(r"\s*\bBREAK\b\s*", run): parts of weight 1 with BREAK entries between them.
void AppendText(std::string_view run, std::vector<Entry>& out) {
  size_t part_start = 0;
  size_t search = 0;
  while (true) {
    const size_t at = run.find(kBreak, search);
    if (at == std::string_view::npos) break;
    const size_t after = at + kBreak.size();
    const bool boundary_before = at == 0 || !IsWordCharAt(run, PreviousCharStart(run, at));
    const bool boundary_after = after == run.size() || !IsWordCharAt(run, after);
    if (!boundary_before || !boundary_after) {
      search = at + 1;
      continue;
    }
    size_t left = at;
    while (left > part_start) {
      const size_t prev = PreviousCharStart(run, left);
      size_t length = 0;
      if (!IsSpaceAt(run, prev, length)) break;
      left = prev;
    }
    size_t right = after;
    size_t length = 0;
    while (right < run.size() && IsSpaceAt(run, right, length)) right += length;
    out.push_back({std::string(run.substr(part_start, left - part_start)), 1.0});
    out.push_back({std::string(kBreak), kBreakWeight});
    part_start = right;
    search = right;
  }
  out.push_back({std::string(run.substr(part_start)), 1.0});
}

// `:\s*([+-]?[.\d]+)\s*\)` at `pos` (a ':'): the end of the match and the number text.
bool MatchWeight(std::string_view text, size_t pos, size_t& end, std::string_view& number) {
  size_t q = pos + 1;
  size_t length = 0;
  while (q < text.size() && IsSpaceAt(text, q, length)) q += length;
  const size_t number_start = q;
  if (q < text.size() && (text[q] == '+' || text[q] == '-')) ++q;
  const size_t digits_start = q;
  while (q < text.size() && (text[q] == '.' || (text[q] >= '0' && text[q] <= '9'))) ++q;
  if (q == digits_start) return false;
  number = text.substr(number_start, q - number_start);
  while (q < text.size() && IsSpaceAt(text, q, length)) q += length;
  if (q >= text.size() || text[q] != ')') return false;
  end = q + 1;
  return true;
}

bool IsSyntaxChar(char c) { return c == '\\' || c == '(' || c == ')' || c == '[' || c == ']' || c == ':'; }

}  // namespace

StatusOr<std::vector<PromptFragment>> ParsePromptAttention(std::string_view text) {
  std::vector<Entry> res;
  std::vector<size_t> round_brackets;
  std::vector<size_t> square_brackets;
  const auto multiply_range = [&res](size_t start, double multiplier) {
    for (size_t p = start; p < res.size(); ++p) res[p].weight *= multiplier;
  };

  for (size_t pos = 0; pos < text.size();) {
    const char c = text[pos];
    if (c == '\\') {
      const bool escape = pos + 1 < text.size() && (text[pos + 1] == '(' || text[pos + 1] == ')' ||
                                                    text[pos + 1] == '[' || text[pos + 1] == ']' ||
                                                    text[pos + 1] == '\\');
      // A lone backslash matches `\\` alone and contributes text[1:], i.e. nothing.
      res.push_back({escape ? std::string(1, text[pos + 1]) : std::string(), 1.0});
      pos += escape ? 2 : 1;
    } else if (c == '(') {
      round_brackets.push_back(res.size());
      ++pos;
    } else if (c == '[') {
      square_brackets.push_back(res.size());
      ++pos;
    } else if (c == ':') {
      size_t end = 0;
      std::string_view number;
      if (!MatchWeight(text, pos, end, number)) {
        AppendText(":", res);
        ++pos;
        continue;
      }
      if (round_brackets.empty()) {
        AppendText(text.substr(pos, end - pos), res);
      } else {
        double weight = 0;
        if (!ParseDecimal(number, weight)) {
          return InvalidArgument("prompt column " +
                                 std::to_string(unicode::ColumnAt(text, number.data() - text.data())) +
                                 ": attention weight '" + std::string(number) + "' is not a number");
        }
        multiply_range(round_brackets.back(), weight);
        round_brackets.pop_back();
      }
      pos = end;
    } else if (c == ')' && !round_brackets.empty()) {
      multiply_range(round_brackets.back(), kRoundMultiplier);
      round_brackets.pop_back();
      ++pos;
    } else if (c == ']' && !square_brackets.empty()) {
      multiply_range(square_brackets.back(), kSquareMultiplier);
      square_brackets.pop_back();
      ++pos;
    } else if (c == ')' || c == ']') {
      AppendText(text.substr(pos, 1), res);
      ++pos;
    } else {
      size_t end = pos;
      while (end < text.size() && !IsSyntaxChar(text[end])) ++end;
      AppendText(text.substr(pos, end - pos), res);
      pos = end;
    }
  }
  for (size_t start : round_brackets) multiply_range(start, kRoundMultiplier);
  for (size_t start : square_brackets) multiply_range(start, kSquareMultiplier);
  if (res.empty()) res.push_back({std::string(), 1.0});

  std::vector<Entry> merged;
  for (Entry& entry : res) {
    if (!merged.empty() && merged.back().weight == entry.weight) {
      merged.back().text += entry.text;
    } else {
      merged.push_back(std::move(entry));
    }
  }
  std::vector<PromptFragment> fragments;
  fragments.reserve(merged.size());
  for (Entry& entry : merged) {
    const bool is_break = entry.text == kBreak && entry.weight == kBreakWeight;
    fragments.push_back({std::move(entry.text), entry.weight, is_break});
  }
  return fragments;
}

}  // namespace farm::sd
