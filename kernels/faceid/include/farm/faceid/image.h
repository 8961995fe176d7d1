// An 8-bit RGB image as the face pipeline sees it (face-api works on the int32 image
// tensor; values are never scaled to [0, 1] before the per-net normalisation).
#pragma once

#include <cstdint>
#include <vector>

namespace farm::faceid {

// Row-major HWC, channels R, G, B: rgb.size() == width * height * 3.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

// The pixels image[y:y+h, x:x+w]. The caller clips the rectangle to the image; a
// rectangle reaching outside is clipped here too (never a bad read), and an empty one
// (or an image whose rgb size is not width*height*3) yields an empty image.
RgbImage Crop(const RgbImage& image, int x, int y, int w, int h);

}  // namespace farm::faceid
