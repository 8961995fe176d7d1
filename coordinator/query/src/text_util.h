// Small text helpers of the query library: case, UTF-8 widths, suggestions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/suggest.h"

namespace farm::query {

std::string ToLower(std::string_view text);

// Bytes of the UTF-8 sequence starting at `offset` (1 for a stray or invalid byte),
// never past the end of `text`.
std::size_t Utf8SequenceLength(std::string_view text, std::size_t offset);

// Characters (UTF-8 lead bytes) in text[0, offset): the terminal column of a byte offset.
std::size_t DisplayWidth(std::string_view text);

std::string HexByte(unsigned char c);  // "0x07"

using farm::ClosestMatch;  // farm/schemas/suggest.h

}  // namespace farm::query
