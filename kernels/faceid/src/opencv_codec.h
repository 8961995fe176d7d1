// The OpenCV side of image decoding: formats other than JPEG, and INTER_AREA downscaling.
#pragma once

#include <string>
#include <string_view>

#include "farm/faceid/image.h"
#include "farm/schemas/status.h"

namespace farm::faceid::internal {

// cv::imdecode(IMREAD_UNCHANGED), then to 8-bit RGB: gray replicated, alpha composited
// onto black, 16-bit scaled by 1/257 (rounded). Appends remarks to *note.
StatusOr<RgbImage> DecodeWithOpenCv(std::string_view bytes, const std::string& origin,
                                    std::string* note);

// cv::resize(INTER_AREA) to width x height (both >= 1).
RgbImage ResizeArea(const RgbImage& image, int width, int height);

}  // namespace farm::faceid::internal
