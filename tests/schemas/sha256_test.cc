#include "farm/schemas/sha256.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace farm {
namespace {

// Digests from FIPS 180-2 test vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, IncrementalMatchesOneShot) {
  Sha256 hasher;
  hasher.Update("a");
  hasher.Update("bc");
  EXPECT_EQ(hasher.FinishHex(), Sha256Hex("abc"));
}

TEST(Sha256Test, HashesFilesInChunks) {
  const std::string path = testing::TempDir() + "/sha256_test_file";
  std::string content(3 << 20, 'x');  // spans several read chunks
  content[12345] = 'y';
  std::ofstream(path, std::ios::binary) << content;
  auto digest = Sha256File(path);
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, Sha256Hex(content));
  std::remove(path.c_str());
}

TEST(Sha256Test, MissingFileIsNotFoundWithPath) {
  auto digest = Sha256File("/nonexistent/dir/model.safetensors");
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), StatusCode::kNotFound);
  EXPECT_NE(digest.status().message().find("/nonexistent/dir/model.safetensors"), std::string::npos);
}

TEST(Sha256Test, ShortHashIsTenDigits) {
  EXPECT_EQ(ShortHash("cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516"), "cc6cb27103");
}

}  // namespace
}  // namespace farm
