#include "opencv_codec.h"

#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace farm::faceid::internal {
namespace {

RgbImage FromRgbMat(const cv::Mat& rgb) {
  RgbImage out;
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.rgb.resize(size_t(rgb.cols) * size_t(rgb.rows) * 3);
  for (int y = 0; y < rgb.rows; ++y) {
    std::memcpy(out.rgb.data() + size_t(y) * rgb.cols * 3, rgb.ptr<uint8_t>(y),
                size_t(rgb.cols) * 3);
  }
  return out;
}

// Colour channels times alpha, in [0, 1] floats, rounded back to 8 bits.
cv::Mat CompositeOnBlack(const cv::Mat& colour, const cv::Mat& alpha, double max_value) {
  cv::Mat c, a;
  colour.convertTo(c, CV_32F, 1.0 / max_value);
  alpha.convertTo(a, CV_32F, 1.0 / max_value);
  cv::Mat a3;
  cv::merge(std::vector<cv::Mat>{a, a, a}, a3);
  cv::Mat out;
  cv::multiply(c, a3, c);
  c.convertTo(out, CV_8U, 255.0);
  return out;
}

}  // namespace

StatusOr<RgbImage> DecodeWithOpenCv(std::string_view bytes, const std::string& origin,
                                    std::string* note) {
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    cv::Mat decoded = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
    if (decoded.empty()) {
      return InvalidArgument(origin + ": not a decodable image (unknown format or corrupt data)");
    }
    double max_value = 255.0;
    if (decoded.depth() == CV_16U) {
      max_value = 65535.0;
      *note += "16-bit samples scaled to 8 bits; ";
    } else if (decoded.depth() != CV_8U) {
      return InvalidArgument(origin +
                             ": unsupported sample format (only 8- and 16-bit integer "
                             "images are accepted), OpenCV depth " +
                             std::to_string(decoded.depth()));
    }
    std::vector<cv::Mat> planes;
    cv::split(decoded, planes);
    cv::Mat bgr;
    switch (decoded.channels()) {
      case 1:
        cv::merge(std::vector<cv::Mat>{planes[0], planes[0], planes[0]}, bgr);
        *note += "grayscale replicated to RGB; ";
        break;
      case 2: {
        cv::Mat gray3;
        cv::merge(std::vector<cv::Mat>{planes[0], planes[0], planes[0]}, gray3);
        bgr = CompositeOnBlack(gray3, planes[1], max_value);
      }
        *note += "grayscale with alpha: composited onto black; ";
        break;
      case 3:
        bgr = decoded;
        break;
      case 4: {
        cv::Mat colour;
        cv::merge(std::vector<cv::Mat>{planes[0], planes[1], planes[2]}, colour);
        bgr = CompositeOnBlack(colour, planes[3], max_value);
        *note += "alpha channel composited onto black; ";
        break;
      }
      default:
        return InvalidArgument(origin + ": unsupported channel count " +
                               std::to_string(decoded.channels()));
    }
    if (bgr.depth() != CV_8U) {
      cv::Mat eight;
      bgr.convertTo(eight, CV_8U, 255.0 / max_value);
      bgr = eight;
    }
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return FromRgbMat(rgb);
  } catch (const cv::Exception& e) {
    return InvalidArgument(origin + ": OpenCV could not decode the image: " + e.what());
  }
}

RgbImage ResizeArea(const RgbImage& image, int width, int height) {
  const cv::Mat src(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
  cv::Mat dst;
  cv::resize(src, dst, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  return FromRgbMat(dst);
}

}  // namespace farm::faceid::internal
