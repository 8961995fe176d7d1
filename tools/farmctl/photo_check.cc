#include "photo_check.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace farmctl {
namespace {

constexpr const char* kExpected = "expected a JPEG, PNG, BMP, WebP, TIFF or PNM image";

bool Starts(const unsigned char* head, std::size_t got, const char* magic, std::size_t n) {
  return got >= n && std::memcmp(head, magic, n) == 0;
}

std::uint32_t BigEndian32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

}  // namespace

farm::Status CheckPhotoFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return farm::NotFound(path + ": no such file; " + kExpected);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return farm::Unavailable(path + ": cannot open it");
  unsigned char head[32] = {};
  in.read(reinterpret_cast<char*>(head), sizeof(head));
  const std::size_t got = static_cast<std::size_t>(in.gcount());
  if (got == 0) return farm::InvalidArgument(path + ": empty file, not an image; " + kExpected);
  if (Starts(head, got, "\x89PNG\r\n\x1a\n", 8)) {
    // The first chunk must be IHDR with a non-zero size.
    if (got < 24 || std::memcmp(head + 12, "IHDR", 4) != 0) {
      return farm::InvalidArgument(path + ": a PNG without its IHDR header (truncated or "
                                   "corrupt); " + kExpected);
    }
    if (BigEndian32(head + 16) == 0 || BigEndian32(head + 20) == 0) {
      return farm::InvalidArgument(path + ": a PNG of zero width or height; " + kExpected);
    }
    return farm::Status::Ok();
  }
  if (Starts(head, got, "\xff\xd8\xff", 3)) return farm::Status::Ok();  // JPEG SOI + marker
  if (Starts(head, got, "BM", 2)) return farm::Status::Ok();
  if (Starts(head, got, "RIFF", 4) && got >= 12 && std::memcmp(head + 8, "WEBP", 4) == 0) {
    return farm::Status::Ok();
  }
  if (Starts(head, got, "II*\0", 4) || Starts(head, got, "MM\0*", 4)) return farm::Status::Ok();
  if (got >= 3 && head[0] == 'P' && head[1] >= '1' && head[1] <= '6' &&
      (head[2] == '\n' || head[2] == ' ' || head[2] == '\r' || head[2] == '\t')) {
    return farm::Status::Ok();
  }
  return farm::InvalidArgument(path + ": not an image (its first bytes match no image format); " +
                               kExpected);
}

}  // namespace farmctl
