// Decoding photos into the RgbImage the face pipeline works on.
//
// JPEG is decoded with libjpeg(-turbo) at its defaults (out_color_space JCS_RGB, ISLOW
// DCT, fancy upsampling): the reference's "libjpeg-turbo" decoder, so the pixels hash to
// results_by_decoder["libjpeg-turbo"].decoded_rgb_sha256. Truncated or corrupt entropy
// data is an error (libjpeg would only warn and fill the rest with grey). The EXIF
// orientation tag of a JPEG is applied (as cv::imread's IMREAD_COLOR does).
//
// Other formats (PNG, BMP, WebP, TIFF, ... whatever OpenCV reads) go through
// cv::imdecode(IMREAD_UNCHANGED); a PNG's chunk structure is checked first so a
// truncated PNG is an error. Grayscale is replicated to R=G=B; an alpha channel is
// composited onto black (out = colour * alpha); 16-bit samples are scaled to 8 bits
// (v / 257, rounded). EXIF orientation is applied to JPEG only.
//
// Images with a side longer than DecodeOptions::max_side are downscaled (cv::INTER_AREA)
// so the longer side equals max_side; detection then runs on the smaller image and the
// result says so. Images under 32 px decode normally (the detector simply finds no face).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "farm/faceid/image.h"
#include "farm/schemas/status.h"

namespace farm::faceid {

struct DecodeOptions {
  // Either side above this: downscale (INTER_AREA) so the longer side is max_side.
  int max_side = 4096;
  // Images with more pixels than this are refused: JPEG and PNG from their headers, before
  // decoding (decompression bombs); other formats after OpenCV decoded them.
  int64_t max_pixels = int64_t{1} << 28;
  // Files larger than this are refused without being read.
  int64_t max_file_bytes = int64_t{256} << 20;
  // Apply a JPEG's EXIF orientation tag.
  bool apply_exif_orientation = true;
};

struct DecodedImage {
  RgbImage image;             // what the face pipeline should analyse
  bool exif_rotated = false;  // an EXIF orientation other than 1 was applied
  bool downscaled = false;    // image is smaller than the decoded photo
  int original_width = 0;     // decoded size after EXIF orientation, before downscaling
  int original_height = 0;
  std::string format;  // "jpeg", "png" or "other"
  std::string note;    // human-readable remarks (orientation, alpha, warnings)
};

// Reads and decodes an image file. Errors name the file and what is wrong (empty, not an
// image, truncated, too large, unsupported sample format).
StatusOr<DecodedImage> DecodeImageFile(const std::string& path, const DecodeOptions& options = {});

// The same for bytes already in memory; `origin` names them in error messages.
StatusOr<DecodedImage> DecodeImageBytes(std::string_view bytes, const DecodeOptions& options = {},
                                        const std::string& origin = "<memory>");

}  // namespace farm::faceid
