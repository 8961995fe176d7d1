// Resizing for the detailer and the upscaler.
#pragma once

#include "farm/image/image.h"
#include "farm/schemas/status.h"

namespace farm::image {

// Lanczos (8x8, cv::INTER_LANCZOS4) resize to width x height (each 1..kMaxImageSide);
// any channel count the library takes. The same size returns a copy.
StatusOr<Image> ResizeLanczos(const Image& image, int width, int height);

}  // namespace farm::image
