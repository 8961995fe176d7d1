// The pixel work of preparation: cut the square crop from the analysed photo and bring
// it to the training resolution. OpenCV stays behind this file.
#pragma once

#include "farm/agent/face_crop.h"
#include "farm/faceid/image.h"
#include "farm/image/image.h"
#include "farm/schemas/status.h"

namespace farm::agent::internal {

// photo[crop] resized to resolution x resolution RGB: cv::INTER_AREA when shrinking (it
// averages every source pixel, so no aliasing), cv::INTER_LANCZOS4 when enlarging, a
// plain copy at the same size. InvalidArgument when the crop is not inside the photo.
StatusOr<image::Image> CropToTrainingImage(const faceid::RgbImage& photo, const PixelRect& crop,
                                           int resolution);

}  // namespace farm::agent::internal
