#include "exif_orientation.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace farm::faceid::internal {
namespace {

struct TiffReader {
  std::string_view tiff;
  bool little_endian = true;

  bool U16(size_t offset, uint16_t* out) const {
    if (offset > tiff.size() || tiff.size() - offset < 2) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(tiff.data() + offset);
    *out = little_endian ? static_cast<uint16_t>(p[0] | (p[1] << 8))
                         : static_cast<uint16_t>((p[0] << 8) | p[1]);
    return true;
  }
  bool U32(size_t offset, uint32_t* out) const {
    if (offset > tiff.size() || tiff.size() - offset < 4) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(tiff.data() + offset);
    *out =
        little_endian
            ? (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24)
            : (uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]});
    return true;
  }
};

constexpr uint16_t kOrientationTag = 0x0112;
constexpr uint16_t kTypeShort = 3;

}  // namespace

int ParseExifOrientation(std::string_view app1_payload) {
  static constexpr char kExifHeader[6] = {'E', 'x', 'i', 'f', '\0', '\0'};
  if (app1_payload.size() < sizeof(kExifHeader) ||
      std::memcmp(app1_payload.data(), kExifHeader, sizeof(kExifHeader)) != 0) {
    return 1;
  }
  TiffReader reader{app1_payload.substr(sizeof(kExifHeader))};
  if (reader.tiff.size() < 8) return 1;
  if (reader.tiff.substr(0, 2) == "II") {
    reader.little_endian = true;
  } else if (reader.tiff.substr(0, 2) == "MM") {
    reader.little_endian = false;
  } else {
    return 1;
  }
  uint16_t magic = 0;
  uint32_t ifd0 = 0;
  uint16_t count = 0;
  if (!reader.U16(2, &magic) || magic != 42 || !reader.U32(4, &ifd0) || !reader.U16(ifd0, &count)) {
    return 1;
  }
  for (uint32_t i = 0; i < count; ++i) {
    const size_t entry = size_t{ifd0} + 2 + size_t{i} * 12;
    uint16_t tag = 0, type = 0, value = 0;
    uint32_t n = 0;
    if (!reader.U16(entry, &tag) || !reader.U16(entry + 2, &type) || !reader.U32(entry + 4, &n) ||
        !reader.U16(entry + 8, &value)) {
      return 1;
    }
    if (tag != kOrientationTag) continue;
    if (type != kTypeShort || n != 1 || value < 1 || value > 8) return 1;
    return value;
  }
  return 1;
}

RgbImage ApplyExifOrientation(const RgbImage& image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int w = image.width;
  const int h = image.height;
  const bool swaps = orientation >= 5;
  RgbImage out;
  out.width = swaps ? h : w;
  out.height = swaps ? w : h;
  out.rgb.resize(image.rgb.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;
        case 4:
          sy = h - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;
      }
      const size_t src = (size_t(sy) * w + sx) * 3;
      const size_t dst = (size_t(y) * out.width + x) * 3;
      out.rgb[dst] = image.rgb[src];
      out.rgb[dst + 1] = image.rgb[src + 1];
      out.rgb[dst + 2] = image.rgb[src + 2];
    }
  }
  return out;
}

}  // namespace farm::faceid::internal
