// The chunk layer of a PNG file: a bounds-checked, CRC-checked walk over the chunk list,
// and building chunks. Every length read from the file is checked against what is left
// of it, so a truncated or corrupt file is an error, never a bad read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::image::internal {

inline constexpr std::string_view kPngSignature{"\x89PNG\r\n\x1a\n", 8};

struct PngChunk {
  std::string type;       // four ASCII letters, e.g. "IHDR"
  size_t offset = 0;      // of the chunk's length field in the file
  size_t total_size = 0;  // length + type + data + CRC
  std::string_view data;  // a view into the file's bytes
};

struct PngChunkList {
  uint32_t width = 0;  // from IHDR
  uint32_t height = 0;
  std::vector<PngChunk> chunks;  // IHDR first, IEND last; bytes after IEND are ignored
};

// Walks the file. `origin` (a path or "PNG data") prefixes every message. InvalidArgument
// when the signature is missing; DataLoss for a truncated file, a CRC mismatch, a chunk
// list without IHDR first or without IEND, or a malformed IHDR.
StatusOr<PngChunkList> ParsePngChunks(std::string_view bytes, const std::string& origin);

// length, type, data and CRC-32 (over type and data) of one chunk.
std::string BuildPngChunk(std::string_view type, std::string_view data);

}  // namespace farm::image::internal
