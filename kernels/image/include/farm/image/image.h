// The pixel container every farm::image function takes: 8-bit, row-major HWC, with
// 1 (grey or mask), 3 (R, G, B) or 4 (R, G, B, A) channels. A plain struct, so callers
// need not include OpenCV; the library converts at its boundary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::image {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<uint8_t> pixels;  // size == width * height * channels

  uint8_t* at(int x, int y) {
    return pixels.data() + (static_cast<size_t>(y) * width + x) * channels;
  }
  const uint8_t* at(int x, int y) const {
    return pixels.data() + (static_cast<size_t>(y) * width + x) * channels;
  }
};

// An axis-aligned rectangle in pixels: [x, x + width) x [y, y + height).
struct Rect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;

  bool empty() const { return width <= 0 || height <= 0; }
  friend bool operator==(const Rect&, const Rect&) = default;
};

// Largest side accepted anywhere in the library (a guard against absurd sizes from
// files and settings, far above any render the farm makes).
inline constexpr int kMaxImageSide = 16384;

// An image of the given size filled with `value` in every channel. InvalidArgument for a
// size outside 1..kMaxImageSide or channels not 1, 3 or 4.
StatusOr<Image> MakeImage(int width, int height, int channels, uint8_t value = 0);

// OK when the image is well formed: sides in 1..kMaxImageSide, channels 1, 3 or 4 and a
// pixel buffer of exactly width*height*channels bytes. `what` names it in the message.
Status ValidateImage(const Image& image, const std::string& what);

// "512x768x3", for messages.
std::string DescribeSize(const Image& image);
std::string DescribeRect(const Rect& rect);

// The intersection of `rect` with [0, width) x [0, height) (empty when they do not meet).
Rect ClipRect(const Rect& rect, int width, int height);

// `rect` grown by `amount` px on every side (saturating: no overflow for huge values).
Rect GrowRect(const Rect& rect, int amount);

// The pixels inside `rect`, which must lie inside the image and be non-empty.
StatusOr<Image> Crop(const Image& image, const Rect& rect);

}  // namespace farm::image
