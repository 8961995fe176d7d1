#include "farm/image/image.h"

#include <algorithm>
#include <cstring>

namespace farm::image {

namespace {

bool SideOk(int side) { return side >= 1 && side <= kMaxImageSide; }

}  // namespace

std::string DescribeSize(const Image& image) {
  return std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
         std::to_string(image.channels);
}

std::string DescribeRect(const Rect& rect) {
  return "(x " + std::to_string(rect.x) + ", y " + std::to_string(rect.y) + ", " +
         std::to_string(rect.width) + "x" + std::to_string(rect.height) + ")";
}

StatusOr<Image> MakeImage(int width, int height, int channels, uint8_t value) {
  if (!SideOk(width) || !SideOk(height)) {
    return InvalidArgument("image size " + std::to_string(width) + "x" + std::to_string(height) +
                           " is outside 1.." + std::to_string(kMaxImageSide));
  }
  if (channels != 1 && channels != 3 && channels != 4) {
    return InvalidArgument("image channels " + std::to_string(channels) +
                           "; expected 1, 3 or 4");
  }
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.assign(static_cast<size_t>(width) * height * channels, value);
  return image;
}

Status ValidateImage(const Image& image, const std::string& what) {
  if (!SideOk(image.width) || !SideOk(image.height)) {
    return InvalidArgument(what + ": size " + std::to_string(image.width) + "x" +
                           std::to_string(image.height) + " is outside 1.." +
                           std::to_string(kMaxImageSide));
  }
  if (image.channels != 1 && image.channels != 3 && image.channels != 4) {
    return InvalidArgument(what + ": " + std::to_string(image.channels) +
                           " channels; expected 1, 3 or 4");
  }
  const size_t expected = static_cast<size_t>(image.width) * image.height * image.channels;
  if (image.pixels.size() != expected) {
    return InvalidArgument(what + ": pixel buffer holds " + std::to_string(image.pixels.size()) +
                           " bytes; a " + DescribeSize(image) + " image needs " +
                           std::to_string(expected));
  }
  return Status::Ok();
}

Rect ClipRect(const Rect& rect, int width, int height) {
  // 64-bit ends so that huge rectangles cannot overflow.
  const int64_t x0 = std::clamp<int64_t>(rect.x, 0, width);
  const int64_t y0 = std::clamp<int64_t>(rect.y, 0, height);
  const int64_t x1 = std::clamp<int64_t>(int64_t{rect.x} + std::max(rect.width, 0), x0, width);
  const int64_t y1 = std::clamp<int64_t>(int64_t{rect.y} + std::max(rect.height, 0), y0, height);
  return Rect{static_cast<int>(x0), static_cast<int>(y0), static_cast<int>(x1 - x0),
              static_cast<int>(y1 - y0)};
}

Rect GrowRect(const Rect& rect, int amount) {
  static constexpr int64_t kLimit = int64_t{1} << 30;
  const auto clamp = [&](int64_t v) { return static_cast<int>(std::clamp(v, -kLimit, kLimit)); };
  return Rect{clamp(int64_t{rect.x} - amount), clamp(int64_t{rect.y} - amount),
              clamp(int64_t{rect.width} + 2 * int64_t{amount}),
              clamp(int64_t{rect.height} + 2 * int64_t{amount})};
}

StatusOr<Image> Crop(const Image& image, const Rect& rect) {
  FARM_RETURN_IF_ERROR(ValidateImage(image, "crop source"));
  if (rect.empty() || ClipRect(rect, image.width, image.height) != rect) {
    return InvalidArgument("crop rectangle " + DescribeRect(rect) + " is empty or leaves the " +
                           DescribeSize(image) + " image");
  }
  Image out;
  out.width = rect.width;
  out.height = rect.height;
  out.channels = image.channels;
  out.pixels.resize(static_cast<size_t>(rect.width) * rect.height * image.channels);
  const size_t row_bytes = static_cast<size_t>(rect.width) * image.channels;
  for (int row = 0; row < rect.height; ++row) {
    std::memcpy(out.at(0, row), image.at(rect.x, rect.y + row), row_bytes);
  }
  return out;
}

}  // namespace farm::image
