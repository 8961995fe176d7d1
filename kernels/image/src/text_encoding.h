// UTF-8 and Latin-1 conversions for PNG text chunks (tEXt is Latin-1, iTXt UTF-8). The
// UTF-8 functions live in schemas (farm/schemas/utf8.h), shared with the infotext.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "farm/schemas/utf8.h"

namespace farm::image::internal {

using farm::AppendUtf8;
using farm::DecodeUtf8;
using farm::IsValidUtf8;

// The Latin-1 bytes of valid UTF-8 text whose code points are all <= U+00FF; nullopt
// otherwise.
std::optional<std::string> Utf8ToLatin1(std::string_view text);

std::string Latin1ToUtf8(std::string_view text);

}  // namespace farm::image::internal
