#include "farm/agent/artifact_chunker.h"

#include <gtest/gtest.h>

#include <vector>

namespace farm::agent {
namespace {

studiofarm::v1::LeaseRef Lease() {
  studiofarm::v1::LeaseRef lease;
  lease.set_job_id(42);
  lease.set_attempt(3);
  return lease;
}

std::vector<studiofarm::v1::ArtifactChunk> ChunkAll(const std::string& data, std::size_t max) {
  ArtifactChunker chunker(Lease(), "abc", data, max);
  std::vector<studiofarm::v1::ArtifactChunk> chunks;
  studiofarm::v1::ArtifactChunk chunk;
  while (chunker.Next(&chunk)) chunks.push_back(chunk);
  return chunks;
}

void ExpectWellFormed(const std::vector<studiofarm::v1::ArtifactChunk>& chunks,
                      const std::string& data, std::size_t max) {
  ASSERT_FALSE(chunks.empty());
  std::string joined;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].offset(), joined.size());
    EXPECT_LE(chunks[i].data().size(), max);
    EXPECT_EQ(chunks[i].last(), i + 1 == chunks.size());
    EXPECT_EQ(chunks[i].lease().job_id(), 42u);
    EXPECT_EQ(chunks[i].lease().attempt(), 3u);
    EXPECT_EQ(chunks[i].sha256(), "abc");
    joined += chunks[i].data();
  }
  EXPECT_EQ(joined, data);
}

TEST(ArtifactChunkerTest, SplitsWithRemainder) {
  const std::string data(10, 'x');
  const auto chunks = ChunkAll(data, 4);
  EXPECT_EQ(chunks.size(), 3u);
  ExpectWellFormed(chunks, data, 4);
}

TEST(ArtifactChunkerTest, ExactMultipleHasNoEmptyTail) {
  const std::string data(8, 'y');
  const auto chunks = ChunkAll(data, 4);
  EXPECT_EQ(chunks.size(), 2u);
  ExpectWellFormed(chunks, data, 4);
}

TEST(ArtifactChunkerTest, EmptyArtifactIsOneLastChunk) {
  const auto chunks = ChunkAll("", 4);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_TRUE(chunks[0].last());
  EXPECT_TRUE(chunks[0].data().empty());
}

TEST(ArtifactChunkerTest, NeverExceedsOneMebibyte) {
  const std::string data(kMaxArtifactChunkBytes * 2 + 5, 'z');
  const auto chunks = ChunkAll(data, kMaxArtifactChunkBytes * 4);
  EXPECT_EQ(chunks.size(), 3u);
  ExpectWellFormed(chunks, data, kMaxArtifactChunkBytes);
}

TEST(ArtifactChunkerTest, ZeroLimitIsClampedToOneByte) {
  const auto chunks = ChunkAll("abc", 0);
  EXPECT_EQ(chunks.size(), 3u);
  ExpectWellFormed(chunks, "abc", 1);
}

}  // namespace
}  // namespace farm::agent
