#include "faces_draw.h"

#include <cstdio>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace farm::agent {

Status DrawFaces(const faceid::RgbImage& image, const std::vector<faceid::Face>& faces,
                 const std::string& path) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return InvalidArgument("--draw " + path + ": no image to draw on");
  }
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
  cv::Mat canvas;
  cv::cvtColor(rgb, canvas, cv::COLOR_RGB2BGR);
  // Line widths and text grow with the image so the drawing stays visible on 4K photos.
  const int thickness = std::max(1, std::max(image.width, image.height) / 600);
  const double font_scale = 0.5 * thickness;
  const cv::Scalar box_colour(0, 220, 0), landmark_colour(0, 200, 255), text_colour(255, 255, 255);
  for (size_t i = 0; i < faces.size(); ++i) {
    const faceid::Face& face = faces[i];
    const cv::Point top_left(static_cast<int>(face.box.x), static_cast<int>(face.box.y));
    const cv::Point bottom_right(static_cast<int>(face.box.x + face.box.width),
                                 static_cast<int>(face.box.y + face.box.height));
    cv::rectangle(canvas, top_left, bottom_right, box_colour, thickness);
    for (const faceid::Point2& p : face.landmarks) {
      cv::circle(canvas, cv::Point(static_cast<int>(p[0]), static_cast<int>(p[1])), thickness + 1,
                 landmark_colour, cv::FILLED);
    }
    char label[32];
    std::snprintf(label, sizeof(label), "#%zu %.3f", i, face.score);
    int baseline = 0;
    const cv::Size size = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, font_scale, thickness, &baseline);
    const cv::Point origin(top_left.x, std::max(size.height + 2, top_left.y - 4));
    cv::rectangle(canvas, origin + cv::Point(0, baseline), origin + cv::Point(size.width, -size.height - 2),
                  box_colour, cv::FILLED);
    cv::putText(canvas, label, origin, cv::FONT_HERSHEY_SIMPLEX, font_scale, text_colour, thickness);
  }
  const std::filesystem::path target(path);
  const std::string tmp =
      (target.parent_path() / ("." + target.filename().string() + ".tmp" + target.extension().string()))
          .string();
  try {
    if (!cv::imwrite(tmp, canvas)) return Unavailable("--draw: cannot write " + path);
  } catch (const cv::Exception& e) {
    return InvalidArgument("--draw: cannot write " + path + ": " + e.what());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, target, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Unavailable("--draw: cannot write " + path + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace farm::agent
