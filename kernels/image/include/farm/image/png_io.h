// PNG encoding and decoding of farm::image::Image (OpenCV's codec behind a structural
// check: a truncated or corrupt file is an error, never a partial image).
#pragma once

#include <string>
#include <string_view>

#include "farm/image/image.h"
#include "farm/schemas/status.h"

namespace farm::image {

// PNG bytes of a valid image (1, 3 or 4 channels; RGB(A) order).
StatusOr<std::string> EncodePng(const Image& image);

// Decodes 8- or 16-bit grey, grey+alpha, RGB, RGBA or palette PNGs to 8 bits, keeping 1
// (grey), 3 (RGB) or 4 (RGBA) channels. `origin` names the data in messages.
StatusOr<Image> DecodePng(std::string_view bytes, const std::string& origin = "PNG data");

StatusOr<Image> ReadPngFile(const std::string& path);
Status WritePngFile(const std::string& path, const Image& image);

// Whole-file byte I/O used by the PNG and pose readers. Writing goes through a temporary
// file in the same folder that is renamed over the target.
StatusOr<std::string> ReadFileBytes(const std::string& path);
Status WriteFileBytes(const std::string& path, std::string_view bytes);

}  // namespace farm::image
