// Structural check of a PNG file before it is handed to a decoder that would accept a
// truncated file: the chunk list must be complete (IHDR first, IEND reached, every chunk
// inside the file).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "farm/schemas/status.h"

namespace farm::faceid::internal {

bool LooksLikePng(std::string_view bytes);

// OK when the chunk structure is complete; fills width and height from IHDR. DataLoss
// for a truncated file, InvalidArgument for a malformed or too large one.
Status CheckPngStructure(std::string_view bytes, int64_t max_pixels, const std::string& origin,
                         int* width, int* height);

}  // namespace farm::faceid::internal
