#include "png_chunks.h"

#include <zlib.h>

namespace farm::image::internal {
namespace {

uint32_t ReadBigEndian32(std::string_view bytes, size_t offset) {
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
  return uint32_t{u[0]} << 24 | uint32_t{u[1]} << 16 | uint32_t{u[2]} << 8 | uint32_t{u[3]};
}

void AppendBigEndian32(std::string& out, uint32_t value) {
  out.push_back(static_cast<char>(value >> 24));
  out.push_back(static_cast<char>(value >> 16));
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
}

uint32_t Crc32(std::string_view type, std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(type.data()), static_cast<uInt>(type.size()));
  // Chunk data is at most 2^31 - 1 bytes, so it fits one uInt call.
  crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  return static_cast<uint32_t>(crc);
}

bool IsChunkTypeByte(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

}  // namespace

StatusOr<PngChunkList> ParsePngChunks(std::string_view bytes, const std::string& origin) {
  if (bytes.substr(0, kPngSignature.size()) != kPngSignature) {
    return InvalidArgument(origin + ": not a PNG file (the 8-byte PNG signature is missing)");
  }
  PngChunkList list;
  size_t offset = kPngSignature.size();
  while (true) {
    const std::string at = " at offset " + std::to_string(offset);
    if (bytes.size() - offset < 12) {
      return DataLoss(origin + ": truncated PNG: no complete chunk header" + at + " (file has " +
                      std::to_string(bytes.size()) + " bytes and no IEND chunk)");
    }
    const uint32_t length = ReadBigEndian32(bytes, offset);
    std::string type(bytes.substr(offset + 4, 4));
    for (char c : type) {
      if (!IsChunkTypeByte(c)) {
        return DataLoss(origin + ": corrupt PNG: invalid chunk type bytes" + at);
      }
    }
    if (length > 0x7FFFFFFFu || bytes.size() - offset - 12 < length) {
      return DataLoss(origin + ": truncated PNG: chunk '" + type + "'" + at + " declares " +
                      std::to_string(length) + " data bytes, only " +
                      std::to_string(bytes.size() - offset - 12) + " remain");
    }
    const std::string_view data = bytes.substr(offset + 8, length);
    const uint32_t stored_crc = ReadBigEndian32(bytes, offset + 8 + length);
    if (stored_crc != Crc32(bytes.substr(offset + 4, 4), data)) {
      return DataLoss(origin + ": corrupt PNG: CRC mismatch in chunk '" + type + "'" + at);
    }
    if (list.chunks.empty()) {
      if (type != "IHDR" || length != 13) {
        return DataLoss(origin + ": corrupt PNG: the first chunk is '" + type +
                        "'; expected a 13-byte IHDR");
      }
      list.width = ReadBigEndian32(data, 0);
      list.height = ReadBigEndian32(data, 4);
      if (list.width == 0 || list.height == 0 || list.width > 0x7FFFFFFFu ||
          list.height > 0x7FFFFFFFu) {
        return DataLoss(origin + ": corrupt PNG: IHDR size " + std::to_string(list.width) + "x" +
                        std::to_string(list.height));
      }
    } else if (type == "IHDR") {
      return DataLoss(origin + ": corrupt PNG: a second IHDR chunk" + at);
    }
    list.chunks.push_back(PngChunk{type, offset, size_t{length} + 12, data});
    offset += size_t{length} + 12;
    if (type == "IEND") return list;
  }
}

std::string BuildPngChunk(std::string_view type, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 12);
  AppendBigEndian32(out, static_cast<uint32_t>(data.size()));
  out.append(type);
  out.append(data);
  AppendBigEndian32(out, Crc32(type, data));
  return out;
}

}  // namespace farm::image::internal
