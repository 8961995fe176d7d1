#include "reference_json.h"

#include <gtest/gtest.h>

#include <fstream>

namespace farm::faceid::testing {

nlohmann::json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return nullptr;
  }
  nlohmann::json value = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    ADD_FAILURE() << "invalid JSON in " << path;
    return nullptr;
  }
  return value;
}

std::vector<float> FloatsOf(const nlohmann::json& array) {
  std::vector<float> out;
  out.reserve(array.size());
  for (const auto& v : array) out.push_back(static_cast<float>(v.get<double>()));
  return out;
}

RgbImage ImageOf(const nlohmann::json& flat_rgb, int width, int height) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.rgb.reserve(flat_rgb.size());
  for (const auto& v : flat_rgb) image.rgb.push_back(static_cast<uint8_t>(v.get<int>()));
  EXPECT_EQ(image.rgb.size(), static_cast<size_t>(width) * height * 3);
  return image;
}

}  // namespace farm::faceid::testing
