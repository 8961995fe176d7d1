#include "crop_resize.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

namespace farm::agent::internal {

StatusOr<image::Image> CropToTrainingImage(const faceid::RgbImage& photo, const PixelRect& crop,
                                           int resolution) {
  if (photo.width <= 0 || photo.height <= 0 ||
      photo.rgb.size() != static_cast<size_t>(photo.width) * photo.height * 3) {
    return InvalidArgument("crop: the photo is empty or malformed");
  }
  if (crop.width <= 0 || crop.height <= 0 || crop.x < 0 || crop.y < 0 ||
      crop.x + crop.width > photo.width || crop.y + crop.height > photo.height) {
    return InvalidArgument("crop " + std::to_string(crop.x) + "," + std::to_string(crop.y) + " " +
                           std::to_string(crop.width) + "x" + std::to_string(crop.height) +
                           " is not inside the " + std::to_string(photo.width) + "x" +
                           std::to_string(photo.height) + " photo");
  }
  if (resolution <= 0) return InvalidArgument("crop: resolution must be positive");
  try {
    // OpenCV only reads the photo's buffer here.
    const cv::Mat whole(photo.height, photo.width, CV_8UC3, const_cast<uint8_t*>(photo.rgb.data()));
    const cv::Mat region = whole(cv::Rect(crop.x, crop.y, crop.width, crop.height));
    image::Image out;
    out.width = out.height = resolution;
    out.channels = 3;
    out.pixels.resize(static_cast<size_t>(resolution) * resolution * 3);
    cv::Mat target(resolution, resolution, CV_8UC3, out.pixels.data());
    if (crop.width == resolution && crop.height == resolution) {
      region.copyTo(target);
    } else {
      const int filter = crop.width > resolution ? cv::INTER_AREA : cv::INTER_LANCZOS4;
      cv::resize(region, target, target.size(), 0, 0, filter);
    }
    return out;
  } catch (const cv::Exception& e) {
    return Internal(std::string("crop and resize: ") + e.what());
  }
}

}  // namespace farm::agent::internal
