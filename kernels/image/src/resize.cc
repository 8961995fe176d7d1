#include "farm/image/resize.h"

#include <opencv2/imgproc.hpp>

#include "mat_util.h"

namespace farm::image {

StatusOr<Image> ResizeLanczos(const Image& image, int width, int height) {
  FARM_RETURN_IF_ERROR(ValidateImage(image, "resize input"));
  if (width < 1 || height < 1 || width > kMaxImageSide || height > kMaxImageSide) {
    return InvalidArgument("resize: target " + std::to_string(width) + "x" +
                           std::to_string(height) + " is outside 1.." +
                           std::to_string(kMaxImageSide));
  }
  if (width == image.width && height == image.height) return image;
  cv::Mat out;
  cv::resize(internal::WrapMat(image), out, cv::Size(width, height), 0, 0, cv::INTER_LANCZOS4);
  return internal::FromMat(out);
}

}  // namespace farm::image
