// Text chunks of PNG files (tEXt, zTXt, iTXt) on encoded bytes: read them, and set one
// keyword's text. Keywords are ASCII; text is UTF-8 on both sides of the API.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::image {

// Upper bound on one chunk's text after decompression (zTXt / compressed iTXt), so a
// hostile file cannot make the reader allocate without limit.
inline constexpr size_t kMaxPngTextBytes = 8u << 20;

struct PngTextEntry {
  std::string keyword;
  std::string text;  // UTF-8 (tEXt and zTXt are converted from Latin-1)
};

// Every text chunk in file order. Errors: InvalidArgument for a non-PNG, DataLoss for a
// truncated or corrupt file (CRC, chunk bounds, a text chunk without its separators or
// whose compressed text does not inflate, iTXt text that is not UTF-8).
StatusOr<std::vector<PngTextEntry>> ReadPngTexts(std::string_view png,
                                                 const std::string& origin = "PNG data");

// The text of the first chunk with this keyword, or nullopt when there is none.
StatusOr<std::optional<std::string>> GetPngText(std::string_view png, const std::string& keyword,
                                                const std::string& origin = "PNG data");

// A copy of `png` with every text chunk of `keyword` removed and one new chunk inserted
// right after IHDR: tEXt when the text is representable in Latin-1, otherwise an
// uncompressed iTXt (as Pillow's PngInfo.add_text does). The keyword must be 1-79
// printable ASCII characters without leading, trailing or double spaces; the text
// valid UTF-8 without NUL.
StatusOr<std::string> SetPngText(std::string_view png, const std::string& keyword,
                                 const std::string& utf8_text,
                                 const std::string& origin = "PNG data");

}  // namespace farm::image
