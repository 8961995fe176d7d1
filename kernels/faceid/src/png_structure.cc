#include "png_structure.h"

#include <cstring>

namespace farm::faceid::internal {
namespace {

constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

uint32_t BigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} << 24 | uint32_t{u[1]} << 16 | uint32_t{u[2]} << 8 | uint32_t{u[3]};
}

}  // namespace

bool LooksLikePng(std::string_view bytes) {
  return bytes.size() >= sizeof(kSignature) &&
         std::memcmp(bytes.data(), kSignature, sizeof(kSignature)) == 0;
}

Status CheckPngStructure(std::string_view bytes, int64_t max_pixels, const std::string& origin,
                         int* width, int* height) {
  if (!LooksLikePng(bytes)) return InvalidArgument(origin + ": not a PNG signature");
  size_t offset = sizeof(kSignature);
  bool first = true;
  while (true) {
    if (bytes.size() - offset < 12) {
      return DataLoss(origin + ": truncated PNG: chunk header at offset " + std::to_string(offset) +
                      " is cut off (file has " + std::to_string(bytes.size()) + " bytes, no IEND)");
    }
    const uint32_t length = BigEndian32(bytes.data() + offset);
    const std::string type(bytes.data() + offset + 4, 4);
    if (length > 0x7FFFFFFFu) {
      return InvalidArgument(origin + ": malformed PNG: chunk '" + type + "' at offset " +
                             std::to_string(offset) + " declares length " + std::to_string(length));
    }
    if (bytes.size() - offset - 12 < length) {
      return DataLoss(origin + ": truncated PNG: chunk '" + type + "' at offset " +
                      std::to_string(offset) + " needs " + std::to_string(length + 12) +
                      " bytes, only " + std::to_string(bytes.size() - offset) + " remain");
    }
    const char* data = bytes.data() + offset + 8;
    if (first) {
      if (type != "IHDR" || length != 13) {
        return InvalidArgument(origin + ": malformed PNG: the first chunk is '" + type +
                               "', expected a 13-byte IHDR");
      }
      const uint32_t w = BigEndian32(data);
      const uint32_t h = BigEndian32(data + 4);
      if (w == 0 || h == 0 || w > 0x7FFFFFFFu || h > 0x7FFFFFFFu) {
        return InvalidArgument(origin + ": malformed PNG: IHDR size " + std::to_string(w) + "x" +
                               std::to_string(h));
      }
      if (int64_t{w} * int64_t{h} > max_pixels) {
        return InvalidArgument(origin + ": PNG is too large to decode: " + std::to_string(w) + "x" +
                               std::to_string(h) + " pixels, the limit is " +
                               std::to_string(max_pixels));
      }
      *width = static_cast<int>(w);
      *height = static_cast<int>(h);
      first = false;
    }
    offset += 12 + size_t{length};
    if (type == "IEND") return Status::Ok();
  }
}

}  // namespace farm::faceid::internal
