// EXIF orientation (TIFF tag 0x0112) of a JPEG's APP1 segment, and applying it.
#pragma once

#include <string_view>

#include "farm/faceid/image.h"

namespace farm::faceid::internal {

// The orientation value 1..8 in an APP1 payload ("Exif\0\0" + TIFF data), or 1 when the
// payload is not EXIF, has no orientation tag or is malformed (every offset is checked).
int ParseExifOrientation(std::string_view app1_payload);

// The image as it should be displayed for EXIF orientation 1..8 (2: mirror, 3: rotate
// 180, 4: flip, 5: transpose, 6: rotate 90 clockwise, 7: transverse, 8: rotate 90
// counter-clockwise); other values return the image unchanged.
RgbImage ApplyExifOrientation(const RgbImage& image, int orientation);

}  // namespace farm::faceid::internal
