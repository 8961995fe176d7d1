#include "mat_util.h"

#include <cstring>

namespace farm::image::internal {

cv::Mat WrapMat(Image& image) {
  return cv::Mat(image.height, image.width, CV_8UC(image.channels), image.pixels.data());
}

cv::Mat WrapMat(const Image& image) {
  return cv::Mat(image.height, image.width, CV_8UC(image.channels),
                 const_cast<uint8_t*>(image.pixels.data()));
}

Image FromMat(const cv::Mat& mat) {
  Image out;
  out.width = mat.cols;
  out.height = mat.rows;
  out.channels = mat.channels();
  out.pixels.resize(static_cast<size_t>(mat.cols) * mat.rows * mat.channels());
  const size_t row_bytes = static_cast<size_t>(mat.cols) * mat.channels();
  for (int row = 0; row < mat.rows; ++row) {
    std::memcpy(out.pixels.data() + row * row_bytes, mat.ptr<uint8_t>(row), row_bytes);
  }
  return out;
}

}  // namespace farm::image::internal
