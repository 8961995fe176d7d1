#include "farm/sd/tiny_tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "farm/sd/clip_tokenizer.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST(TinyTokenizerTest, SameFilesEveryTime) {
  const std::string first = testing::ScratchDir() + "/tiny-a";
  const std::string second = testing::ScratchDir() + "/tiny-b";
  ASSERT_TRUE(WriteTinyTokenizerFiles(first, 1000).ok());
  ASSERT_TRUE(WriteTinyTokenizerFiles(second, 1000).ok());
  const std::string vocab = ReadFile(first + "/vocab.json");
  const std::string merges = ReadFile(first + "/merges.txt");
  EXPECT_GT(vocab.size(), 1000u);
  EXPECT_EQ(merges.rfind("#version: 0.2\n", 0), 0u);
  EXPECT_EQ(vocab, ReadFile(second + "/vocab.json"));
  EXPECT_EQ(merges, ReadFile(second + "/merges.txt"));
}

TEST(TinyTokenizerTest, LoadsWithSpecialTokensLastAndEncodes) {
  const std::string dir = testing::ScratchDir() + "/tiny-1000";
  ASSERT_TRUE(WriteTinyTokenizerFiles(dir, 1000).ok());
  auto tokenizer = ClipTokenizer::LoadFromDir(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  EXPECT_EQ(tokenizer->vocab_size(), 1000);
  EXPECT_EQ(tokenizer->bos_id(), 998);
  EXPECT_EQ(tokenizer->eos_id(), 999);
  EXPECT_GE(tokenizer->merge_count(), 1000u - 514u);
  EXPECT_EQ(tokenizer->TokenId("!"), 0);
  EXPECT_EQ(tokenizer->TokenId("!</w>"), 256);
  EXPECT_TRUE(tokenizer->comma_id().has_value());

  const std::string prompt = "a portrait photo of a woman, soft light";
  const std::vector<int64_t> ids = tokenizer->Encode(prompt);
  for (int64_t id : ids) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 998);
  }
  EXPECT_LT(ids.size(), 20u);  // merges were learned and used
  EXPECT_LE(tokenizer->Encode("portrait").size(), 2u);
  auto decoded = tokenizer->Decode(ids);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "a portrait photo of a woman , soft light");
  // Text outside the corpus still encodes, through byte tokens.
  auto odd = tokenizer->Decode(tokenizer->Encode("zebra \xE4\xB8\xAD 42"));
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(*odd, "zebra \xE4\xB8\xAD 4 2");
}

TEST(TinyTokenizerTest, VocabularySizeIsConfigurable) {
  for (int64_t size : {514, 600, 1200}) {
    const std::string dir = testing::ScratchDir() + "/tiny-" + std::to_string(size);
    ASSERT_TRUE(WriteTinyTokenizerFiles(dir, size).ok()) << size;
    auto tokenizer = ClipTokenizer::LoadFromDir(dir);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
    EXPECT_EQ(tokenizer->vocab_size(), size);
    EXPECT_EQ(tokenizer->bos_id(), size - 2);
    EXPECT_EQ(tokenizer->eos_id(), size - 1);
  }
  EXPECT_FALSE(WriteTinyTokenizerFiles(testing::ScratchDir() + "/tiny-small", 513).ok());
}

}  // namespace
}  // namespace farm::sd
