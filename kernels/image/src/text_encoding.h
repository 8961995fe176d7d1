// UTF-8 and Latin-1 conversions for PNG text chunks (tEXt is Latin-1, iTXt UTF-8).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace farm::image::internal {

// Decodes the code point at text[*pos] and advances *pos; nullopt (pos unchanged) for an
// invalid, overlong or surrogate sequence.
std::optional<uint32_t> DecodeUtf8(std::string_view text, size_t* pos);

bool IsValidUtf8(std::string_view text);

void AppendUtf8(std::string& out, uint32_t code_point);

// The Latin-1 bytes of valid UTF-8 text whose code points are all <= U+00FF; nullopt
// otherwise.
std::optional<std::string> Utf8ToLatin1(std::string_view text);

std::string Latin1ToUtf8(std::string_view text);

}  // namespace farm::image::internal
