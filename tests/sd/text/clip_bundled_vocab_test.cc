// The vocabulary compiled into the library: derived from openai's .gz as the CLIP
// reference README describes, equal to the vocab.json/merges.txt pair written from it.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "farm/sd/clip_tokenizer.h"
#include "farm/sd/utf8.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

std::string SourceDir() {
  const char* root = std::getenv("FARM_SOURCE_DIR");
  return root ? root : ".";
}

std::string BundledGzPath() { return SourceDir() + "/kernels/sd/text/data/bpe_simple_vocab_16e6.txt.gz"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Gunzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return "";
  std::string out;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  gzclose(file);
  return out;
}

// bytes_to_unicode, written out here from the README's description.
std::vector<std::string> ByteCharacters() {
  std::vector<std::string> chars;
  std::vector<bool> used(256, false);
  for (int b = 0; b < 256; ++b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) {
      chars.emplace_back();
      AppendUtf8(static_cast<char32_t>(b), chars.back());
      used[b] = true;
    }
  }
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    if (!used[b]) {
      chars.emplace_back();
      AppendUtf8(next++, chars.back());
    }
  }
  return chars;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

TEST(ClipBundledVocabTest, EqualsTheFolderWrittenInTheReadmeFormat) {
  const std::string text = Gunzip(BundledGzPath());
  ASSERT_FALSE(text.empty()) << BundledGzPath() << ": cannot read";
  std::vector<std::string> lines;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 262146u);
  const std::vector<std::string> merges(lines.begin() + 1, lines.begin() + 1 + 48894);

  std::vector<std::string> vocab = ByteCharacters();
  for (size_t i = 0; i < 256; ++i) vocab.push_back(vocab[i] + "</w>");
  for (const std::string& merge : merges) vocab.push_back(merge.substr(0, merge.find(' ')) + merge.substr(merge.find(' ') + 1));
  vocab.push_back("<|startoftext|>");
  vocab.push_back("<|endoftext|>");

  const std::string dir = testing::ScratchPath("clip-folder", "");
  {
    std::ofstream merges_txt(dir + "/merges.txt", std::ios::binary);
    merges_txt << "#version: 0.2\n";
    for (const std::string& merge : merges) merges_txt << merge << "\n";
    std::ofstream vocab_json(dir + "/vocab.json", std::ios::binary);
    vocab_json << "{";
    for (size_t id = 0; id < vocab.size(); ++id) vocab_json << (id ? ", " : "") << JsonString(vocab[id]) << ": " << id;
    vocab_json << "}";
  }
  auto folder = ClipTokenizer::LoadFromDir(dir);
  ASSERT_TRUE(folder.ok()) << folder.status().ToString();
  auto bundled = ClipTokenizer::Bundled();
  ASSERT_TRUE(bundled.ok()) << bundled.status().ToString();

  ASSERT_EQ(bundled->vocab_size(), 49408);
  ASSERT_EQ(folder->vocab_size(), 49408);
  for (int64_t id = 0; id < 49408; ++id) {
    ASSERT_EQ(bundled->Token(id), folder->Token(id)) << "id " << id;
    ASSERT_EQ(bundled->TokenId(*bundled->Token(id)), id) << *bundled->Token(id);
  }
  EXPECT_EQ(bundled->merge_count(), 48894u);
  EXPECT_EQ(bundled->Merges(), folder->Merges());
  const std::string prompt = "a photo of an astronaut riding a horse, (masterpiece:1.2), caf\xC3\xA9";
  EXPECT_EQ(bundled->Encode(prompt), folder->Encode(prompt));
}

TEST(ClipBundledVocabTest, KnownIds) {
  auto tokenizer = ClipTokenizer::Bundled();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  EXPECT_EQ(tokenizer->TokenId("!"), 0);
  EXPECT_EQ(tokenizer->TokenId("a"), 64);
  EXPECT_EQ(tokenizer->TokenId("\xC4\x80"), 188);  // byte 0x00 is U+0100
  EXPECT_EQ(tokenizer->TokenId("a</w>"), 256 + 64);
  EXPECT_EQ(tokenizer->bos_id(), 49406);
  EXPECT_EQ(tokenizer->eos_id(), 49407);
  EXPECT_EQ(tokenizer->pad_id(), 49407);
  EXPECT_TRUE(tokenizer->comma_id().has_value());
  // The first merge of the file gets id 512.
  EXPECT_EQ(tokenizer->Token(512), tokenizer->Merges()[0].first + tokenizer->Merges()[0].second);
}

TEST(ClipBundledVocabTest, LoadsTheFileAndNamesItInErrors) {
  auto from_file = ClipTokenizer::LoadBpeVocabGz(BundledGzPath());
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ(from_file->Encode("hello world"), ClipTokenizer::Bundled()->Encode("hello world"));

  auto missing = ClipTokenizer::LoadBpeVocabGz(testing::ScratchDir() + "/no-such-vocab.txt.gz");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no-such-vocab.txt.gz"), std::string::npos);

  const std::string bytes = ReadFile(BundledGzPath());
  const std::string truncated_path = testing::ScratchPath("clip-gz", "truncated.txt.gz");
  std::ofstream(truncated_path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto truncated = ClipTokenizer::LoadBpeVocabGz(truncated_path);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("truncated.txt.gz: corrupt gzip data"), std::string::npos)
      << truncated.status().message();

  auto not_gzip = ClipTokenizer::FromBpeVocabGz("#version: 0.2\na b\n", "plain.txt");
  ASSERT_FALSE(not_gzip.ok());
  EXPECT_NE(not_gzip.status().message().find("plain.txt"), std::string::npos);
}

}  // namespace
}  // namespace farm::sd
