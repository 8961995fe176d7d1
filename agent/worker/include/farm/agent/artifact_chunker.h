// Splits one artifact into the ArtifactChunk messages of an upload: in order, each at most
// `max_chunk_bytes` of data, offsets contiguous from 0, `last` set only on the final one.
// An empty artifact is one empty chunk with last=true, so farmd always sees an end.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "farm.pb.h"

namespace farm::agent {

inline constexpr std::size_t kMaxArtifactChunkBytes = 1u << 20;  // 1 MiB, the wire limit

// Not thread-safe. Borrows `data`: the caller keeps it alive while chunks are produced.
class ArtifactChunker {
 public:
  // A `max_chunk_bytes` of 0 or above kMaxArtifactChunkBytes is clamped into [1, 1 MiB].
  ArtifactChunker(const studiofarm::v1::LeaseRef& lease, std::string sha256_hex,
                  std::string_view data, std::size_t max_chunk_bytes = kMaxArtifactChunkBytes);

  // Fills `chunk` with the next piece; false once the last chunk was produced.
  bool Next(studiofarm::v1::ArtifactChunk* chunk);

 private:
  studiofarm::v1::LeaseRef lease_;
  std::string sha256_hex_;
  std::string_view data_;
  std::size_t max_chunk_bytes_;
  std::size_t offset_ = 0;
  bool done_ = false;
};

}  // namespace farm::agent
