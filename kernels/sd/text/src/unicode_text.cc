#include "unicode_text.h"

#include <utility>

namespace farm::sd::unicode {
namespace {

using Range = std::pair<char32_t, char32_t>;  // inclusive

template <size_t N>
bool InRanges(char32_t c, const Range (&ranges)[N]) {
  for (const Range& r : ranges) {
    if (c < r.first) return false;  // ranges are sorted
    if (c <= r.second) return true;
  }
  return false;
}

// Letter blocks of the scripts prompts are written in; sorted, inclusive.
constexpr Range kLetters[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xAA, 0xAA},       {0xB5, 0xB5},
    {0xBA, 0xBA},       {0xC0, 0xD6},       {0xD8, 0xF6},       {0xF8, 0x2C1},
    {0x2C6, 0x2D1},     {0x2E0, 0x2E4},     {0x2EC, 0x2EC},     {0x2EE, 0x2EE},
    {0x370, 0x374},     {0x376, 0x377},     {0x37A, 0x37D},     {0x37F, 0x37F},
    {0x386, 0x386},     {0x388, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x561, 0x587},     {0x5D0, 0x5EA},     {0x620, 0x64A},
    {0x671, 0x6D3},     {0x904, 0x939},     {0xE01, 0xE30},     {0x10A0, 0x10FF},
    {0x1100, 0x11FF},   {0x1E00, 0x1FBC},   {0x2C00, 0x2CE4},   {0x3041, 0x3096},
    {0x309D, 0x309F},   {0x30A1, 0x30FA},   {0x30FC, 0x30FF},   {0x3105, 0x312F},
    {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA48C},   {0xAC00, 0xD7A3},
    {0xF900, 0xFAFF},   {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0xFF66, 0xFF9D},
    {0x20000, 0x2FA1F},
};

constexpr Range kNumbers[] = {
    {0x30, 0x39},     {0xB2, 0xB3},     {0xB9, 0xB9},     {0xBC, 0xBE},
    {0x660, 0x669},   {0x6F0, 0x6F9},   {0x966, 0x96F},   {0xE50, 0xE59},
    {0x2070, 0x2070}, {0x2074, 0x2079}, {0x2080, 0x2089}, {0x2150, 0x2189},
    {0x2460, 0x249B}, {0x24EA, 0x24FF}, {0x2776, 0x2793}, {0x3007, 0x3007},
    {0x3021, 0x3029}, {0x3038, 0x303A}, {0xFF10, 0xFF19}, {0x1D7CE, 0x1D7FF},
};

// Python's str.isspace, which `\s` follows for str patterns.
constexpr Range kSpaces[] = {
    {0x09, 0x0D},
    {0x1C, 0x20},
    {0x85, 0x85},
    {0xA0, 0xA0},
    {0x1680, 0x1680},
    {0x2000, 0x200A},
    {0x2028, 0x2029},
    {0x202F, 0x202F},
    {0x205F, 0x205F},
    {0x3000, 0x3000},
};

bool IsEven(char32_t c) { return c % 2 == 0; }

}  // namespace

DecodedChar DecodeAt(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, true};
  size_t length = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return {0xFFFD, 1, false};
  }
  if (pos + length > text.size()) return {0xFFFD, 1, false};
  for (size_t i = 1; i < length; ++i) {
    const unsigned char next = byte(pos + i);
    if ((next & 0xC0) != 0x80) return {0xFFFD, 1, false};
    cp = (cp << 6) | (next & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not characters.
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return {0xFFFD, 1, false};
  return {cp, length, true};
}


bool IsLetter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return InRanges(c, kLetters);
}

bool IsNumber(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return InRanges(c, kNumbers);
}

bool IsSpace(char32_t c) { return InRanges(c, kSpaces); }

bool IsWordChar(char32_t c) { return c == '_' || IsLetter(c) || IsNumber(c); }

char32_t ToLower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c < 0x100) return c;
  // Latin Extended-A: mostly upper/lower pairs on even/odd code points.
  if (c == 0x130) return 'i';
  if (c == 0x178) return 0xFF;
  if ((c <= 0x137 || (c >= 0x14A && c <= 0x177)) && IsEven(c)) return c + 1;
  if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && !IsEven(c)) return c + 1;
  // Greek.
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if ((c >= 0x391 && c <= 0x3A1) || (c >= 0x3A3 && c <= 0x3AB)) return c + 32;
  // Cyrillic.
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) &&
      IsEven(c)) {
    return c + 1;
  }
  // Armenian.
  if (c >= 0x531 && c <= 0x556) return c + 48;
  // Latin Extended Additional (Vietnamese and others).
  if (((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) && IsEven(c)) return c + 1;
  // Full-width Latin.
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;
  return c;
}

std::string ToLowerUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const DecodedChar ch = DecodeAt(text, pos);
    if (ch.valid) {
      AppendUtf8(ToLower(ch.code_point), out);
    } else {
      out += text[pos];
    }
    pos += ch.length;
  }
  return out;
}

size_t ColumnAt(std::string_view text, size_t pos) {
  size_t column = 1;
  for (size_t i = 0; i < pos && i < text.size();) {
    i += DecodeAt(text, i).length;
    ++column;
  }
  return column;
}

}  // namespace farm::sd::unicode
