// ClipTokenizer::Normalize and ::PreTokenize: CLIP's text clean-up and regex split.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <unicode/uchar.h>

#include "clip_text_clean.h"
#include "farm/sd/clip_tokenizer.h"
#include "unicode_text.h"

namespace farm::sd {
namespace {

using unicode::DecodeAt;
using unicode::DecodedChar;

// Python's str.isspace, which strip() uses (the regex's \s lacks U+001C..001F).
bool IsPythonSpace(char32_t c) { return IsRegexSpace(c) || (c >= 0x1C && c <= 0x1F); }

std::u32string_view StripPython(std::u32string_view text) {
  while (!text.empty() && IsPythonSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsPythonSpace(text.back())) text.remove_suffix(1);
  return text;
}

// re.sub(r'\s+', ' ', text.strip()).strip()
std::u32string CollapseWhitespace(std::u32string_view text) {
  std::u32string out;
  bool pending_space = false;
  for (char32_t c : StripPython(text)) {
    if (IsRegexSpace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return std::u32string(StripPython(out));
}

enum class CharClass { kLetter, kNumber, kSpace, kOther };

// \p{L}, \p{N} and \s from the Unicode character database (ICU).
CharClass Classify(const DecodedChar& ch) {
  if (!ch.valid) return CharClass::kOther;
  const uint32_t mask = U_GET_GC_MASK(static_cast<UChar32>(ch.code_point));
  if (mask & U_GC_L_MASK) return CharClass::kLetter;
  if (mask & U_GC_N_MASK) return CharClass::kNumber;
  if (IsRegexSpace(ch.code_point)) return CharClass::kSpace;
  return CharClass::kOther;
}

// The pattern is compiled with IGNORECASE: a character matches a literal when their
// simple case folds agree ('\u017F' matches 's', the Kelvin sign 'k').
size_t MatchLiteralIgnoringCase(std::string_view text, size_t pos, std::string_view literal) {
  size_t i = pos;
  for (char expected : literal) {
    if (i >= text.size()) return 0;
    const DecodedChar ch = DecodeAt(text, i);
    if (!ch.valid) return 0;
    const UChar32 folded = u_foldCase(static_cast<UChar32>(ch.code_point), U_FOLD_CASE_DEFAULT);
    if (folded != u_foldCase(static_cast<unsigned char>(expected), U_FOLD_CASE_DEFAULT)) return 0;
    i += ch.length;
  }
  return i - pos;
}

// Length of the match of the first alternative that matches at `pos`, 0 for whitespace.
size_t MatchAt(std::string_view text, size_t pos) {
  for (std::string_view literal : {ClipTokenizer::kStartOfText, ClipTokenizer::kEndOfText, std::string_view("'s"),
                                   std::string_view("'t"), std::string_view("'re"), std::string_view("'ve"),
                                   std::string_view("'m"), std::string_view("'ll"), std::string_view("'d")}) {
    if (const size_t length = MatchLiteralIgnoringCase(text, pos, literal)) return length;
  }
  const DecodedChar first = DecodeAt(text, pos);
  const CharClass cls = Classify(first);
  if (cls == CharClass::kSpace) return 0;
  if (cls == CharClass::kNumber) return first.length;  // [\p{N}]: one character
  // [\p{L}]+ or [^\s\p{L}\p{N}]+: a run of the same class.
  size_t end = pos + first.length;
  while (end < text.size()) {
    const DecodedChar next = DecodeAt(text, end);
    if (Classify(next) != cls) break;
    end += next.length;
  }
  return end - pos;
}

}  // namespace

std::string ClipTokenizer::Normalize(std::string_view text) {
  std::u32string fixed = HtmlUnescape(HtmlUnescape(FtfyFixText(DecodeUtf8Lossy(text))));
  return EncodeUtf8(PythonLower(CollapseWhitespace(fixed)));
}

std::vector<std::string> ClipTokenizer::PreTokenize(std::string_view normalized) {
  std::vector<std::string> words;
  for (size_t pos = 0; pos < normalized.size();) {
    const size_t length = MatchAt(normalized, pos);
    if (length == 0) {
      pos += DecodeAt(normalized, pos).length;  // whitespace separates, matches nothing
      continue;
    }
    words.emplace_back(normalized.substr(pos, length));
    pos += length;
  }
  return words;
}

}  // namespace farm::sd
