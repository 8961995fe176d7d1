// Strict JPEG decoding with libjpeg(-turbo) at its default settings (the reference's
// "libjpeg-turbo" decoder: JCS_RGB, JDCT_ISLOW, fancy upsampling).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "farm/faceid/image.h"
#include "farm/schemas/status.h"

namespace farm::faceid::internal {

struct JpegDecodeResult {
  RgbImage image;            // as stored, EXIF orientation not applied
  int exif_orientation = 1;  // 1..8 from the APP1 EXIF segment, 1 when absent
  std::string warnings;      // harmless libjpeg warnings, "; "-separated
};

// Decodes a JPEG. Errors: libjpeg's fatal errors, and the warnings that mean pixels are
// missing or garbage (premature end of file or data segment, bad Huffman or arithmetic
// code, resync, bogus progression) as DataLoss; images over max_pixels are refused
// after the header is read.
StatusOr<JpegDecodeResult> DecodeJpeg(std::string_view bytes, int64_t max_pixels,
                                      const std::string& origin);

}  // namespace farm::faceid::internal
