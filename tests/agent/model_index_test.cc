#include "farm/agent/model_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;

class ModelIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("model_index_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sd");
    fs::create_directories(dir_ / ".hidden");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const fs::path& rel, const std::string& bytes) {
    std::ofstream(dir_ / rel, std::ios::binary) << bytes;
    return Sha256Hex(bytes);
  }
  fs::path dir_;
};

TEST_F(ModelIndexTest, FindsFilesByContentHash) {
  const std::string a = Write("sd/a.safetensors", "checkpoint-a");
  const std::string b = Write("lora.safetensors", "lora-b");
  Write("notes.txt", "not a model");
  const std::string hidden = Write(".hidden/c.safetensors", "hidden");
  auto index = ModelIndex::Build({dir_.string(), ""});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->stats().files, 2);
  EXPECT_EQ(index->stats().hashed, 2);
  auto found = index->Find(a);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(fs::path(found->path).filename(), "a.safetensors");
  EXPECT_EQ(found->size, 12u);
  std::string upper = b;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  ASSERT_TRUE(index->Find(upper).ok());
  auto lora = index->ResolveLoraRef("sha256:" + b);
  ASSERT_TRUE(lora.ok());
  EXPECT_EQ(fs::path(lora->path).filename(), "lora.safetensors");
  EXPECT_EQ(index->Find(hidden).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(index->hashes().size(), 2u);
}

TEST_F(ModelIndexTest, UnknownHashNamesTheHash) {
  auto index = ModelIndex::Build({dir_.string(), ""});
  ASSERT_TRUE(index.ok());
  const std::string missing(64, 'e');
  auto found = index->Find(missing);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kNotFound);
  EXPECT_NE(found.status().message().find(missing), std::string::npos);
  EXPECT_EQ(index->Find("abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index->ResolveLoraRef("train:abc@10").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(index->ResolveLoraRef("bogus").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ModelIndexTest, CacheAvoidsRehashingAndNoticesChanges) {
  const std::string a = Write("sd/a.safetensors", "checkpoint-a");
  ASSERT_TRUE(ModelIndex::Build({dir_.string(), ""}).ok());
  ASSERT_TRUE(fs::exists(dir_ / ".studiofarm-model-index.json"));
  auto again = ModelIndex::Build({dir_.string(), ""});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stats().hashed, 0);
  EXPECT_TRUE(again->Find(a).ok());

  // Changed size: rehashed, old hash gone.
  const std::string a2 = Write("sd/a.safetensors", "checkpoint-a, retrained");
  auto changed = ModelIndex::Build({dir_.string(), ""});
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->stats().hashed, 1);
  EXPECT_TRUE(changed->Find(a2).ok());
  EXPECT_FALSE(changed->Find(a).ok());
}

TEST_F(ModelIndexTest, DamagedCacheIsRebuilt) {
  const std::string a = Write("a.safetensors", "x");
  const std::string cache = (dir_ / "cache.json").string();
  std::ofstream(cache) << "{not json";
  auto index = ModelIndex::Build({dir_.string(), cache});
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->stats().hashed, 1);
  EXPECT_TRUE(index->Find(a).ok());
}

TEST_F(ModelIndexTest, MissingDirectoryIsNotFound) {
  auto index = ModelIndex::Build({(dir_ / "nope").string(), ""});
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace farm::agent
