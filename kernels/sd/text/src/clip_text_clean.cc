#include "clip_text_clean.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <cstdint>

#include "farm/sd/utf8.h"
#include "html_entities.h"
#include "unicode_text.h"

namespace farm::sd {
namespace {

icu::UnicodeString ToIcu(std::u32string_view text) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()),
                                       static_cast<int32_t>(text.size()));
}

std::u32string FromIcu(const icu::UnicodeString& text) {
  std::u32string out;
  for (int32_t i = 0; i < text.length();) {
    const UChar32 c = text.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

std::u32string Normalize(std::u32string_view text, bool compatibility) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = compatibility ? icu::Normalizer2::getNFKCInstance(error)
                                                     : icu::Normalizer2::getNFCInstance(error);
  if (U_FAILURE(error)) return std::u32string(text);  // ICU data missing: leave the text as is
  icu::UnicodeString result = normalizer->normalize(ToIcu(text), error);
  if (U_FAILURE(error)) return std::u32string(text);
  return FromIcu(result);
}

bool IsAsciiAlnum(char32_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string AsciiName(std::u32string_view name) {
  std::string out;
  for (char32_t c : name) AppendUtf8(c, out);
  return out;
}

// Windows-1252 for 0x80..0x9F; the five undefined bytes stay themselves (ftfy's "sloppy"
// codec, and the same table html.unescape uses for numeric references in that range).
char32_t Windows1252(char32_t c) {
  static constexpr char32_t kTable[32] = {
      0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021, 0x2C6,  0x2030, 0x160,
      0x2039, 0x152,  0x8D,   0x17D,  0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};
  return kTable[c - 0x80];
}

// html.unescape of one numeric reference's value.
std::u32string NumericReference(uint64_t value) {
  if (value == 0) return U"\uFFFD";
  if (value == 0x0D) return U"\r";
  if (value >= 0x80 && value <= 0x9F) return std::u32string(1, Windows1252(static_cast<char32_t>(value)));
  if ((value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) return U"\uFFFD";
  if ((value >= 0x1 && value <= 0x8) || value == 0xB || (value >= 0xE && value <= 0x1F) ||
      (value >= 0x7F && value <= 0x9F) || (value >= 0xFDD0 && value <= 0xFDEF) ||
      (value & 0xFFFE) == 0xFFFE) {
    return U"";
  }
  return std::u32string(1, static_cast<char32_t>(value));
}

// Python's html._replace_charref for the text after '&' at `pos`; false when the regex
// does not match there. `length` counts code points after the '&'.
bool PythonCharref(std::u32string_view text, size_t pos, std::u32string& out, size_t& length) {
  size_t i = pos;
  if (i < text.size() && text[i] == '#') {
    ++i;
    const bool hex = i < text.size() && (text[i] == 'x' || text[i] == 'X');
    if (hex) ++i;
    const size_t digits_start = i;
    uint64_t value = 0;
    while (i < text.size()) {
      const char32_t c = text[i];
      int digit = -1;
      if (c >= '0' && c <= '9') digit = static_cast<int>(c - '0');
      if (hex && c >= 'a' && c <= 'f') digit = static_cast<int>(c - 'a' + 10);
      if (hex && c >= 'A' && c <= 'F') digit = static_cast<int>(c - 'A' + 10);
      if (digit < 0) break;
      value = value * (hex ? 16 : 10) + static_cast<uint64_t>(digit);
      if (value > 0x10FFFF) value = 0x110000;  // saturate: any such value gives U+FFFD
      ++i;
    }
    if (i == digits_start) {
      // "&#x" without hex digits: the decimal alternative failed, try "#" + decimals.
      return false;
    }
    if (i < text.size() && text[i] == ';') ++i;
    out = NumericReference(value);
    length = i - pos;
    return true;
  }
  // [^\t\n\f <&#;]{1,32};?
  while (i < text.size() && i - pos < 32) {
    const char32_t c = text[i];
    if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';') break;
    ++i;
  }
  if (i == pos) return false;
  if (i < text.size() && text[i] == ';') ++i;
  length = i - pos;
  const std::u32string_view name = text.substr(pos, length);
  if (const HtmlEntity* entity = FindHtmlEntity(AsciiName(name))) {
    out = DecodeUtf8Lossy(entity->text);
    return true;
  }
  // The longest legacy name (no ';') that prefixes it, at least two characters.
  for (size_t x = name.size() - 1; x > 1; --x) {
    if (const HtmlEntity* entity = FindHtmlEntity(AsciiName(name.substr(0, x)))) {
      out = DecodeUtf8Lossy(entity->text);
      out.append(name.substr(x));
      return true;
    }
  }
  out = U"&";
  out.append(name);
  return true;
}

// ftfy's HTML_ENTITIES lookup for "&name;" (`name` holds the ';'): HTML5 names ending in
// ';', plus the all-caps form of an all-lower-case name when html.unescape leaves that
// form alone; its text is then upper-cased.
bool FtfyEntity(std::u32string_view name, std::u32string& out) {
  const std::string ascii = AsciiName(name);
  if (const HtmlEntity* entity = FindHtmlEntity(ascii)) {
    out = DecodeUtf8Lossy(entity->text);
    return true;
  }
  std::string lower = ascii;
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (lower == ascii) return false;
  for (char c : ascii) {
    if (c >= 'a' && c <= 'z') return false;  // not the all-caps form
  }
  const HtmlEntity* entity = FindHtmlEntity(lower);
  if (entity == nullptr) return false;
  std::u32string unescaped;
  size_t length = 0;
  if (PythonCharref(name, 0, unescaped, length) && (length != name.size() || unescaped != U"&" + std::u32string(name))) {
    return false;  // html.unescape reads it as something else
  }
  icu::UnicodeString text = ToIcu(DecodeUtf8Lossy(entity->text));
  text.toUpper(icu::Locale::getRoot());
  out = FromIcu(text);
  return true;
}

// ftfy.fixes.unescape_html: &#?[0-9A-Za-z]{1,24};
std::u32string FtfyUnescapeHtml(std::u32string_view text) {
  std::u32string out;
  for (size_t pos = 0; pos < text.size();) {
    if (text[pos] == '&') {
      size_t i = pos + 1;
      const bool numeric = i < text.size() && text[i] == '#';
      if (numeric) ++i;
      const size_t start = i;
      while (i < text.size() && i - start < 24 && IsAsciiAlnum(text[i])) ++i;
      if (i > start && i < text.size() && text[i] == ';') {
        const std::u32string_view match = text.substr(pos, i + 1 - pos);
        std::u32string replacement;
        if (!numeric && FtfyEntity(match.substr(1), replacement)) {
          out += replacement;
          pos = i + 1;
          continue;
        }
        if (numeric) {
          size_t length = 0;
          // html.unescape(match); kept when the result still holds a ';'.
          if (PythonCharref(match, 1, replacement, length) && length == match.size() - 1 &&
              replacement.find(U';') == std::u32string::npos) {
            out += replacement;
            pos = i + 1;
            continue;
          }
        }
        out.append(match);
        pos = i + 1;
        continue;
      }
    }
    out.push_back(text[pos++]);
  }
  return out;
}

void AppendLigature(char32_t c, std::u32string& out) {
  switch (c) {
    case 0x132: out += U"IJ"; return;
    case 0x133: out += U"ij"; return;
    case 0x149: out += U"\u02BCn"; return;
    case 0x1F1: out += U"DZ"; return;
    case 0x1F2: out += U"Dz"; return;
    case 0x1F3: out += U"dz"; return;
    case 0x1C4: out += U"D\u017D"; return;
    case 0x1C5: out += U"D\u017E"; return;
    case 0x1C6: out += U"d\u017E"; return;
    case 0x1C7: out += U"LJ"; return;
    case 0x1C8: out += U"Lj"; return;
    case 0x1C9: out += U"lj"; return;
    case 0x1CA: out += U"NJ"; return;
    case 0x1CB: out += U"Nj"; return;
    case 0x1CC: out += U"nj"; return;
    case 0xFB00: out += U"ff"; return;
    case 0xFB01: out += U"fi"; return;
    case 0xFB02: out += U"fl"; return;
    case 0xFB03: out += U"ffi"; return;
    case 0xFB04: out += U"ffl"; return;
    case 0xFB05: out += U"\u017Ft"; return;
    case 0xFB06: out += U"st"; return;
    default: out.push_back(c);
  }
}

// The byte a character has in Windows-1252 as ftfy's "sloppy" codec reads it (the five
// undefined bytes as U+0081 and so on), or in Latin-1 for the other C1 controls; -1 when
// it has none.
int MojibakeByte(char32_t c) {
  if (c < 0x80 || (c >= 0xA0 && c <= 0xFF)) return static_cast<int>(c);
  if (c <= 0x9F) return static_cast<int>(c);  // Latin-1 (C1 control)
  for (char32_t b = 0x80; b <= 0x9F; ++b) {
    if (Windows1252(b) == c) return static_cast<int>(b);
  }
  return -1;
}

// A simplified ftfy fix_encoding: a UTF-8 byte sequence that was decoded as Windows-1252
// or Latin-1 ("cafÃ©", "donâ€™t") is decoded again, sequence by sequence, when its bytes
// form one valid multi-byte UTF-8 character. ftfy's badness heuristic, restore_byte_a0,
// lossy-sequence replacement and the other single-byte encodings (1250, 1251, MacRoman,
// cp437, ...) are not replicated.
std::u32string FixUtf8Mojibake(std::u32string_view text) {
  std::u32string out;
  for (size_t i = 0; i < text.size();) {
    const int lead = MojibakeByte(text[i]);
    size_t extra = 0;
    char32_t cp = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      extra = 1, cp = static_cast<char32_t>(lead & 0x1F);
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      extra = 2, cp = static_cast<char32_t>(lead & 0x0F);
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      extra = 3, cp = static_cast<char32_t>(lead & 0x07);
    }
    bool ok = extra > 0 && i + extra < text.size();
    for (size_t k = 1; ok && k <= extra; ++k) {
      const int next = MojibakeByte(text[i + k]);
      ok = next >= 0x80 && next <= 0xBF;
      if (ok) cp = (cp << 6) | static_cast<char32_t>(next & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMin[extra] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.push_back(cp);
      i += extra + 1;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

bool IsRemovedControl(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// One pass of ftfy's fixes over a line (fix_encoding simplified, see FixUtf8Mojibake).
std::u32string FixOnce(std::u32string_view text, bool unescape_html) {
  std::u32string s = FixUtf8Mojibake(unescape_html ? FtfyUnescapeHtml(text) : std::u32string(text));
  std::u32string t;
  // fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes.
  for (char32_t c : s) {
    if (c >= 0x80 && c <= 0x9F) c = Windows1252(c);
    std::u32string piece;
    AppendLigature(c, piece);
    for (char32_t p : piece) {
      if (p == 0x3000) {
        t.push_back(' ');
      } else if (p >= 0xFF01 && p <= 0xFFEF) {
        t += Normalize(std::u32string(1, p), /*compatibility=*/true);
      } else {
        t.push_back(p);
      }
    }
  }
  for (char32_t& c : t) {
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
    if (c >= 0x201C && c <= 0x201F) c = '"';
  }
  // fix_line_breaks.
  s.clear();
  for (size_t i = 0; i < t.size(); ++i) {
    const char32_t c = t[i];
    if (c == '\r') {
      s.push_back('\n');
      if (i + 1 < t.size() && t[i + 1] == '\n') ++i;
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      s.push_back('\n');
    } else {
      s.push_back(c);
    }
  }
  // remove_terminal_escapes: ESC '[' [0-9;]* [A-Za-z].
  t.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0x1B && i + 1 < s.size() && s[i + 1] == '[') {
      size_t j = i + 2;
      while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || s[j] == ';')) ++j;
      if (j < s.size() && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))) {
        i = j;
        continue;
      }
    }
    t.push_back(s[i]);
  }
  // remove_control_chars.
  s.clear();
  for (char32_t c : t) {
    if (!IsRemovedControl(c)) s.push_back(c);
  }
  return Normalize(s, /*compatibility=*/false);
}

}  // namespace

std::u32string DecodeUtf8Lossy(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const unicode::DecodedChar ch = unicode::DecodeAt(text, pos);
    out.push_back(ch.valid ? ch.code_point : 0xFFFD);
    pos += ch.length;
  }
  return out;
}

std::string EncodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) AppendUtf8(c, out);
  return out;
}

std::u32string FtfyFixText(std::u32string_view text) {
  std::u32string out;
  bool unescape_html = true;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find(U'\n', pos);
    end = end == std::u32string_view::npos ? text.size() : end + 1;
    std::u32string segment(text.substr(pos, end - pos));
    // unescape_html="auto": a line with '<' looks like HTML; it and the rest are left alone.
    if (segment.find(U'<') != std::u32string::npos) unescape_html = false;
    for (;;) {
      std::u32string fixed = FixOnce(segment, unescape_html);
      if (fixed == segment) break;
      segment = std::move(fixed);
    }
    out += segment;
    pos = end;
  }
  return out;
}

std::u32string HtmlUnescape(std::u32string_view text) {
  if (text.find(U'&') == std::u32string_view::npos) return std::u32string(text);
  std::u32string out;
  for (size_t pos = 0; pos < text.size();) {
    if (text[pos] == '&') {
      std::u32string replacement;
      size_t length = 0;
      if (PythonCharref(text, pos + 1, replacement, length)) {
        out += replacement;
        pos += 1 + length;
        continue;
      }
    }
    out.push_back(text[pos++]);
  }
  return out;
}

std::u32string PythonLower(std::u32string_view text) {
  icu::UnicodeString icu_text = ToIcu(text);
  icu_text.toLower(icu::Locale::getRoot());
  return FromIcu(icu_text);
}

bool IsRegexSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

}  // namespace farm::sd
