// Image <-> cv::Mat at the library's boundary (OpenCV stays out of public headers).
// Channel order is kept as it is (R, G, B): only the PNG codec swaps to OpenCV's BGR.
#pragma once

#include <opencv2/core.hpp>

#include "farm/image/image.h"

namespace farm::image::internal {

// A Mat header over the image's pixels (no copy). The image must be valid and outlive it.
cv::Mat WrapMat(Image& image);
cv::Mat WrapMat(const Image& image);  // read-only by contract

// A copy of an 8-bit Mat with 1, 3 or 4 channels.
Image FromMat(const cv::Mat& mat);

}  // namespace farm::image::internal
