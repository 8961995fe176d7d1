// Format and parse of the A1111 infotext (see farm/schemas/infotext.h). The parser follows
// parse_generation_parameters: the last line is the parameter line when the pattern
//   \s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)
// finds at least three pairs in it; here that pattern is matched by hand (below), with
// bytes >= 0x80 counted as word characters as Python's Unicode \w mostly does.
#include <charconv>
#include <algorithm>
#include <cmath>
#include <optional>

#include "farm/schemas/infotext.h"
#include "farm/schemas/utf8.h"
#include "json_string.h"

namespace farm {
namespace {

constexpr std::string_view kNegativePrefix = "Negative prompt:";

bool IsWord(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '_';
}
bool IsKeyChar(char c) { return IsWord(c) || c == ' ' || c == '-' || c == '/'; }
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Strip(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

struct ParamMatch {
  std::string_view key;
  std::string_view value;
  size_t end = 0;
};

// One match of the pattern starting exactly at `pos`.
std::optional<ParamMatch> MatchParamAt(std::string_view line, size_t pos) {
  const size_t n = line.size();
  size_t i = pos;
  while (i < n && IsSpace(line[i])) ++i;
  if (i >= n || !IsWord(line[i])) return std::nullopt;
  size_t j = i + 1;
  while (j < n && IsKeyChar(line[j])) ++j;
  if (j - i < 2 || j >= n || line[j] != ':') return std::nullopt;
  ParamMatch match;
  match.key = line.substr(i, j - i);
  size_t v = j + 1;
  while (v < n && IsSpace(line[v])) ++v;
  // Alternative 1: a quoted string with at least one unit, then ',' or the end.
  if (v < n && line[v] == '"') {
    size_t k = v + 1;
    while (k < n && line[k] != '"') {
      if (line[k] == '\\') {
        if (k + 1 >= n) break;
        k += 2;
      } else {
        ++k;
      }
    }
    if (k < n && line[k] == '"' && k > v + 1 && (k + 1 == n || line[k + 1] == ',')) {
      match.value = line.substr(v, k + 1 - v);
      match.end = k + 1 == n ? n : k + 2;
      return match;
    }
  }
  // Alternative 2: everything up to the next comma.
  size_t k = v;
  while (k < n && line[k] != ',') ++k;
  match.value = line.substr(v, k - v);
  match.end = k < n ? k + 1 : n;
  return match;
}

// re.findall over the line.
std::vector<ParamMatch> FindParams(std::string_view line) {
  std::vector<ParamMatch> matches;
  size_t pos = 0;
  while (pos < line.size()) {
    std::optional<ParamMatch> match = MatchParamAt(line, pos);
    if (match) {
      matches.push_back(*match);
      pos = match->end;
    } else {
      ++pos;
    }
  }
  return matches;
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return false;
  if (IsSpace(value.front()) || IsSpace(value.back())) return true;
  for (char c : value) {
    if (c == ',' || c == ':' || c == '"' || c == '\n' || c == '\r') return true;
  }
  return false;
}

Status ValidateKey(const std::string& key) {
  bool ok = key.size() >= 2 && IsWord(key.front()) && key.back() != ' ';
  for (char c : key) ok = ok && IsKeyChar(c);
  if (!ok) {
    return InvalidArgument("infotext key '" + key +
                           "': expected a letter, digit or '_' followed by one or more letters, "
                           "digits, '_', spaces, '-' or '/' (not ending in a space)");
  }
  return Status::Ok();
}

// A line of the prompt or negative prompt that starts with "Negative prompt:" would be
// read back in the wrong place (or lose that prefix).
Status CheckLines(std::string_view text, const char* what) {
  size_t line_no = 1;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    if (Strip(text.substr(start, end - start)).starts_with(kNegativePrefix)) {
      return InvalidArgument(std::string("infotext ") + what + " line " + std::to_string(line_no) +
                             " starts with 'Negative prompt:'; it would not read back the same");
    }
    start = end + 1;
    ++line_no;
  }
  return Status::Ok();
}

void AppendLines(std::string& target, std::string_view line) {
  if (!target.empty()) target.push_back('\n');
  target.append(line);
}

}  // namespace

const std::string* GenerationParameters::Find(std::string_view key) const {
  for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

void GenerationParameters::Set(const std::string& key, std::string value) {
  for (auto& field : fields) {
    if (field.first == key) {
      field.second = std::move(value);
      return;
    }
  }
  fields.emplace_back(key, std::move(value));
}

StatusOr<std::string> FormatParameters(const GenerationParameters& params) {
  if (params.fields.size() < 3) {
    return InvalidArgument("infotext has " + std::to_string(params.fields.size()) +
                           " fields; front ends read the parameter line only with at least 3");
  }
  if (!IsValidUtf8(params.prompt) || !IsValidUtf8(params.negative_prompt)) {
    return InvalidArgument("infotext prompt or negative prompt is not valid UTF-8");
  }
  FARM_RETURN_IF_ERROR(CheckLines(params.prompt, "prompt"));
  FARM_RETURN_IF_ERROR(CheckLines(params.negative_prompt, "negative prompt"));
  std::string out = params.prompt;
  if (!params.negative_prompt.empty()) {
    out += "\n";
    out += kNegativePrefix;
    out += " ";
    out += params.negative_prompt;
  }
  out += "\n";
  bool first = true;
  for (const auto& [key, value] : params.fields) {
    FARM_RETURN_IF_ERROR(ValidateKey(key));
    if (!IsValidUtf8(value)) {
      return InvalidArgument("infotext value of '" + key + "' is not valid UTF-8");
    }
    if (!first) out += ", ";
    first = false;
    out += key;
    out += ": ";
    out += NeedsQuotes(value) ? internal::JsonQuote(value) : value;
  }
  return out;
}

GenerationParameters ParseParameters(std::string_view text) {
  GenerationParameters params;
  std::vector<std::string_view> lines;
  text = Strip(text);
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::string_view last = lines.back();
  lines.pop_back();
  std::vector<ParamMatch> matches = FindParams(last);
  if (matches.size() < 3) {
    lines.push_back(last);
    matches.clear();
  }
  bool in_negative = false;
  for (std::string_view line : lines) {
    line = Strip(line);
    if (line.starts_with(kNegativePrefix)) {
      in_negative = true;
      line = Strip(line.substr(kNegativePrefix.size()));
    }
    AppendLines(in_negative ? params.negative_prompt : params.prompt, line);
  }
  for (const ParamMatch& match : matches) {
    std::string value(match.value);
    if (!value.empty() && value.front() == '"' && value.back() == '"') {
      if (std::optional<std::string> unquoted = internal::JsonUnquote(value)) {
        value = std::move(*unquoted);
      }
    }
    params.fields.emplace_back(std::string(match.key), std::move(value));
  }
  return params;
}

std::string FormatInfotextNumber(double value) {
  if (!std::isfinite(value)) return "0";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

bool ParseSizeValue(std::string_view value, int* width, int* height) {
  const size_t x = value.find('x');
  if (x == std::string_view::npos) return false;
  int w = 0, h = 0;
  const auto parse = [](std::string_view s, int* out) {
    if (s.empty()) return false;
    const auto result = std::from_chars(s.data(), s.data() + s.size(), *out);
    return result.ec == std::errc() && result.ptr == s.data() + s.size() && *out > 0 &&
           s.front() != '+' && s.front() != '-';
  };
  if (!parse(value.substr(0, x), &w) || !parse(value.substr(x + 1), &h)) return false;
  *width = w;
  *height = h;
  return true;
}

}  // namespace farm
