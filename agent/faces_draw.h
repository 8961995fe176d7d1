// `farm-agent faces detect --draw`: the analysed image with every face's box, score and
// 68 landmarks drawn on it (OpenCV), written as PNG (or any format OpenCV writes, by the
// file's extension).
#pragma once

#include <string>
#include <vector>

#include "farm/faceid/image.h"
#include "farm/faceid/pipeline.h"
#include "farm/schemas/status.h"

namespace farm::agent {

// Writes atomically (a temporary file renamed into place). Errors name the path.
Status DrawFaces(const faceid::RgbImage& image, const std::vector<faceid::Face>& faces,
                 const std::string& path);

}  // namespace farm::agent
