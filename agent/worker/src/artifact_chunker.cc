#include "farm/agent/artifact_chunker.h"

#include <algorithm>

namespace farm::agent {

ArtifactChunker::ArtifactChunker(const studiofarm::v1::LeaseRef& lease, std::string sha256_hex,
                                 std::string_view data, std::size_t max_chunk_bytes)
    : lease_(lease),
      sha256_hex_(std::move(sha256_hex)),
      data_(data),
      max_chunk_bytes_(std::clamp<std::size_t>(max_chunk_bytes, 1, kMaxArtifactChunkBytes)) {}

bool ArtifactChunker::Next(studiofarm::v1::ArtifactChunk* chunk) {
  if (done_) return false;
  const std::size_t size = std::min(max_chunk_bytes_, data_.size() - offset_);
  chunk->Clear();
  *chunk->mutable_lease() = lease_;
  chunk->set_sha256(sha256_hex_);
  chunk->set_offset(offset_);
  chunk->set_data(data_.data() + offset_, size);
  offset_ += size;
  done_ = offset_ >= data_.size();
  chunk->set_last(done_);
  return true;
}

}  // namespace farm::agent
