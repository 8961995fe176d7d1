#include "farm/faceid/image.h"

#include <algorithm>
#include <cstring>

namespace farm::faceid {

RgbImage Crop(const RgbImage& image, int x, int y, int w, int h) {
  // Clipped here as well, so a caller's mistake yields a smaller image, not a bad read.
  const int x0 = std::clamp(x, 0, image.width);
  const int y0 = std::clamp(y, 0, image.height);
  const int x1 = std::clamp(x + std::max(w, 0), x0, image.width);
  const int y1 = std::clamp(y + std::max(h, 0), y0, image.height);
  RgbImage out;
  if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) return out;
  out.width = x1 - x0;
  out.height = y1 - y0;
  out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
  for (int row = 0; row < out.height; ++row) {
    const uint8_t* src = image.rgb.data() + (static_cast<size_t>(y0 + row) * image.width + x0) * 3;
    std::memcpy(out.rgb.data() + static_cast<size_t>(row) * out.width * 3, src,
                static_cast<size_t>(out.width) * 3);
  }
  return out;
}

}  // namespace farm::faceid
