// ClipTokenizer::Normalize and ::PreTokenize: CLIP's text cleanup and regex split.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "farm/sd/clip_tokenizer.h"
#include "unicode_text.h"

namespace farm::sd {
namespace {

using unicode::AppendUtf8;
using unicode::DecodeAt;
using unicode::DecodedChar;

// One HTML entity at `pos` (which holds '&'): its replacement and length, or false.
bool DecodeEntity(std::string_view text, size_t pos, std::string& out, size_t& length) {
  const size_t semicolon = text.find(';', pos);
  if (semicolon == std::string_view::npos || semicolon - pos > 10) return false;
  const std::string_view name = text.substr(pos + 1, semicolon - pos - 1);
  length = semicolon - pos + 1;
  static constexpr std::pair<std::string_view, char32_t> kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0}};
  for (const auto& [entity, cp] : kNamed) {
    if (name == entity) {
      AppendUtf8(cp, out);
      return true;
    }
  }
  if (name.size() < 2 || name[0] != '#') return false;
  const bool hex = name[1] == 'x' || name[1] == 'X';
  const std::string_view digits = name.substr(hex ? 2 : 1);
  if (digits.empty()) return false;
  uint32_t cp = 0;
  for (char c : digits) {
    uint32_t d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (hex && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (hex && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    cp = cp * (hex ? 16 : 10) + d;
    if (cp > 0x10FFFF) return false;
  }
  if (cp == 0 || (cp >= 0xD800 && cp < 0xE000)) return false;
  AppendUtf8(cp, out);
  return true;
}

std::string UnescapeHtml(std::string_view text) {
  // ftfy's "auto" rule: text with a literal '<' is taken to be HTML source and left alone.
  if (text.find('<') != std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t length = 0;
    if (text[pos] == '&' && DecodeEntity(text, pos, out, length)) {
      pos += length;
    } else {
      out += text[pos++];
    }
  }
  return out;
}

bool IsRemovedControl(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0xFEFF;
}

// The character-level part of ftfy's defaults that matters for prompts.
void AppendFixedChar(char32_t c, std::string& out) {
  if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) {
    out += '\'';
  } else if (c >= 0x201C && c <= 0x201F) {
    out += '"';
  } else if (c >= 0xFB00 && c <= 0xFB06) {
    static constexpr std::string_view kLigatures[] = {"ff", "fi", "fl", "ffi", "ffl", "st", "st"};
    out += kLigatures[c - 0xFB00];
  } else if (c >= 0xFF01 && c <= 0xFF5E) {
    out += static_cast<char>(c - 0xFEE0);
  } else if (c == 0x3000) {
    out += ' ';
  } else if (!IsRemovedControl(c)) {
    AppendUtf8(c, out);
  }
}

std::string FixText(std::string_view text) {
  const std::string unescaped = UnescapeHtml(text);
  std::string out;
  out.reserve(unescaped.size());
  for (size_t pos = 0; pos < unescaped.size();) {
    const DecodedChar ch = DecodeAt(unescaped, pos);
    if (ch.valid) {
      AppendFixedChar(ch.code_point, out);
    } else {
      out += unescaped[pos];
    }
    pos += ch.length;
  }
  return out;
}

// re.sub(r'\s+', ' ', text).strip()
std::string CollapseWhitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (size_t pos = 0; pos < text.size();) {
    const DecodedChar ch = DecodeAt(text, pos);
    if (ch.valid && unicode::IsSpace(ch.code_point)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out.append(text.substr(pos, ch.length));
    }
    pos += ch.length;
  }
  return out;
}

enum class CharClass { kLetter, kNumber, kSpace, kOther };

CharClass Classify(const DecodedChar& ch) {
  if (!ch.valid) return CharClass::kOther;
  if (unicode::IsLetter(ch.code_point)) return CharClass::kLetter;
  if (unicode::IsNumber(ch.code_point)) return CharClass::kNumber;
  if (unicode::IsSpace(ch.code_point)) return CharClass::kSpace;
  return CharClass::kOther;
}

bool StartsWithIgnoringAsciiCase(std::string_view text, size_t pos, std::string_view prefix) {
  if (text.size() - pos < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[pos + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != prefix[i]) return false;
  }
  return true;
}

// Length of the match of the first alternative that matches at `pos`, 0 for whitespace.
size_t MatchAt(std::string_view text, size_t pos) {
  for (std::string_view special : {ClipTokenizer::kStartOfText, ClipTokenizer::kEndOfText}) {
    if (StartsWithIgnoringAsciiCase(text, pos, special)) return special.size();
  }
  if (text[pos] == '\'') {
    for (std::string_view contraction : {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
      if (StartsWithIgnoringAsciiCase(text, pos, contraction)) return contraction.size();
    }
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
  return unicode::ToLowerUtf8(CollapseWhitespace(FixText(text)));
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
