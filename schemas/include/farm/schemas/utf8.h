// UTF-8 decoding and encoding (standard library only): the A1111 infotext and PNG text
// chunks must be valid UTF-8.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace farm {

// Decodes the code point at text[*pos] and advances *pos; nullopt (pos unchanged) for an
// invalid, overlong or surrogate sequence.
std::optional<std::uint32_t> DecodeUtf8(std::string_view text, std::size_t* pos);

bool IsValidUtf8(std::string_view text);

void AppendUtf8(std::string& out, std::uint32_t code_point);

}  // namespace farm
