// Reading the faceid reference JSON in tests (nlohmann_json; the files are a few MB).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "farm/faceid/image.h"

namespace farm::faceid::testing {

// The parsed file; fails the calling test (ADD_FAILURE) and returns null when unreadable.
nlohmann::json ReadJsonFile(const std::string& path);

// A JSON array of numbers as float32 values (the reference stores exact float32 values).
std::vector<float> FloatsOf(const nlohmann::json& array);

// An RGB image from a flat [h][w][3] integer array.
RgbImage ImageOf(const nlohmann::json& flat_rgb, int width, int height);

}  // namespace farm::faceid::testing
