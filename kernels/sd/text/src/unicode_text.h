// Just enough Unicode for the prompt parser (CLIP's tokenizer uses ICU): a UTF-8 scanner
// and hand-written tables for letters, numbers, whitespace and lower case.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "farm/sd/utf8.h"

namespace farm::sd::unicode {

struct DecodedChar {
  char32_t code_point = 0;  // U+FFFD for an invalid byte
  size_t length = 1;        // bytes consumed (1 for an invalid byte)
  bool valid = true;
};

DecodedChar DecodeAt(std::string_view text, size_t pos);
using ::farm::sd::AppendUtf8;  // farm/sd/utf8.h

bool IsLetter(char32_t c);     // \p{L}
bool IsNumber(char32_t c);     // \p{N}
bool IsSpace(char32_t c);      // \s
bool IsWordChar(char32_t c);   // \w: letter, number or '_'
char32_t ToLower(char32_t c);

// Lower-cases every valid character; invalid bytes are copied unchanged.
std::string ToLowerUtf8(std::string_view text);

// 1-based column (in characters) of byte offset `pos`.
size_t ColumnAt(std::string_view text, size_t pos);

}  // namespace farm::sd::unicode
