#include "faces_output.h"

#include <cmath>
#include <cstdio>

namespace farm::agent {
namespace {
using nlohmann::json;

json BoxJson(double x, double y, double width, double height) {
  return {{"x", x}, {"y", y}, {"width", width}, {"height", height}};
}

}  // namespace

json DecodeJson(const faceid::DecodedImage& decoded) {
  return {{"format", decoded.format},
          {"width", decoded.image.width},
          {"height", decoded.image.height},
          {"original_width", decoded.original_width},
          {"original_height", decoded.original_height},
          {"exif_rotated", decoded.exif_rotated},
          {"downscaled", decoded.downscaled},
          {"note", decoded.note}};
}

json FaceJson(const faceid::Face& face, int index, bool with_descriptor) {
  json landmarks = json::array();
  for (const faceid::Point2& p : face.landmarks) landmarks.push_back({p[0], p[1]});
  json out = {{"index", index},
              {"score", face.score},
              {"box", BoxJson(face.box.x, face.box.y, face.box.width, face.box.height)},
              {"landmarks", std::move(landmarks)}};
  if (with_descriptor) {
    const faceid::IntRect& c = face.descriptor_crop;
    out["descriptor_crop"] = BoxJson(c.x, c.y, c.width, c.height);
    out["descriptor"] = face.descriptor;
    out["descriptor_norm"] = DescriptorNorm(face);
  }
  return out;
}

json ErrorJson(const Status& status) {
  return {{"code", StatusCodeName(status.code())}, {"message", status.message()}};
}

std::string DecodeSummary(const faceid::DecodedImage& decoded) {
  std::string text = std::to_string(decoded.image.width) + "x" +
                     std::to_string(decoded.image.height) + " " + decoded.format;
  if (decoded.exif_rotated) text += ", EXIF-rotated";
  if (decoded.downscaled) {
    text += ", downscaled from " + std::to_string(decoded.original_width) + "x" +
            std::to_string(decoded.original_height);
  }
  if (!decoded.note.empty()) text += " (" + decoded.note + ")";
  return text;
}

std::string FaceLine(const faceid::Face& face, int index, bool with_descriptor_norm) {
  char line[160];
  std::snprintf(line, sizeof(line), "  #%d  score %.3f  box %.0f,%.0f %.0fx%.0f", index, face.score,
                face.box.x, face.box.y, face.box.width, face.box.height);
  std::string text = line;
  if (with_descriptor_norm) {
    std::snprintf(line, sizeof(line), "  |descriptor| %.3f", DescriptorNorm(face));
    text += line;
  }
  return text;
}

double DescriptorNorm(const faceid::Face& face) {
  double sum = 0;
  for (float v : face.descriptor) sum += static_cast<double>(v) * v;
  return std::sqrt(sum);
}

}  // namespace farm::agent
