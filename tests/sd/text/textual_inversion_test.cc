// Textual-inversion embeddings: the files A1111 reads, the ones it (or the farm) refuses,
// and where their vectors go in prompt chunks.
#include "farm/sd/textual_inversion.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "farm/sd/prompt.h"
#include "farm/sd/safetensors.h"
#include "reference_paths.h"
#include "test_vocab.h"

namespace farm::sd {
namespace {

using testing::ScratchPath;

constexpr int64_t kWidth = 8;

ClipTokenizer ByteTokenizer() {
  const testing::TestVocab vocab = testing::MakeTestVocab({});
  auto tokenizer = ClipTokenizer::FromText(vocab.vocab_json, vocab.merges_txt);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  return std::move(tokenizer).value();
}

std::string Write(const std::string& name, const TensorMap& tensors) {
  const std::string path = ScratchPath("ti", name);
  EXPECT_TRUE(WriteSafetensors(path, tensors).ok());
  return path;
}

TextualInversion Made(const std::string& name, int64_t vectors, float base = 0.0f) {
  TextualInversion embedding;
  embedding.name = name;
  embedding.vectors = at::arange(vectors * kWidth, at::kFloat).reshape({vectors, kWidth}) + base;
  embedding.path = name + ".safetensors";
  return embedding;
}

std::string ErrorOf(const std::string& path) {
  auto read = ReadTextualInversion(path);
  EXPECT_FALSE(read.ok()) << path << " was accepted";
  return read.ok() ? std::string() : read.status().message();
}

TEST(TextualInversionFile, ReadsEmbParamsOneDimensionalAndClipLAloneNamedByStem) {
  const at::Tensor vectors = at::randn({3, kWidth});
  auto emb = ReadTextualInversion(Write("EasyThing.safetensors", {{"emb_params", vectors}}));
  ASSERT_TRUE(emb.ok()) << emb.status().ToString();
  EXPECT_EQ(emb->name, "EasyThing");
  EXPECT_EQ(emb->vector_count(), 3);
  EXPECT_EQ(emb->width(), kWidth);
  EXPECT_TRUE(at::equal(emb->vectors, vectors));

  // A diffusers concept: one tensor named by its token, [width].
  auto single = ReadTextualInversion(Write("concept.safetensors", {{"<cat-toy>", vectors[1].to(at::kHalf)}}), "toy");
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_EQ(single->name, "toy");
  EXPECT_EQ(single->vectors.sizes(), (at::IntArrayRef{1, kWidth}));
  EXPECT_EQ(single->vectors.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(single->vectors[0], vectors[1].to(at::kHalf).to(at::kFloat)));

  auto clip_l = ReadTextualInversion(Write("only_l.safetensors", {{"clip_l", vectors}}));
  ASSERT_TRUE(clip_l.ok()) << clip_l.status().ToString();
  EXPECT_TRUE(at::equal(clip_l->vectors, vectors));
}

TEST(TextualInversionFile, RefusesPicklesSdxlSeveralTensorsAndEmptyOnes) {
  const std::string pt = ScratchPath("ti", "old_style.pt");
  std::ofstream(pt, std::ios::binary) << std::string("\x80\x02}q\x00(X\x0f\x00\x00\x00string_to_param", 26);
  std::string message = ErrorOf(pt);
  EXPECT_NE(message.find("pickle"), std::string::npos) << message;
  EXPECT_NE(message.find("textual-inversion embedding"), std::string::npos) << message;
  EXPECT_NE(message.find(".safetensors"), std::string::npos) << message;

  message = ErrorOf(Write("xl.safetensors", {{"clip_g", at::zeros({2, 1280})}, {"clip_l", at::zeros({2, 768})}}));
  EXPECT_NE(message.find("SDXL"), std::string::npos) << message;

  message = ErrorOf(Write("two.safetensors", {{"a", at::zeros({1, kWidth})}, {"b", at::zeros({1, kWidth})}}));
  EXPECT_NE(message.find("holds 2 tensors"), std::string::npos) << message;

  message = ErrorOf(Write("empty.safetensors", {{"emb_params", at::zeros({0, kWidth})}}));
  EXPECT_NE(message.find("no vectors"), std::string::npos) << message;
  EXPECT_NE(message.find("empty.safetensors"), std::string::npos) << message;

  message = ErrorOf(Write("ints.safetensors", {{"emb_params", at::zeros({1, kWidth}, at::kInt)}}));
  EXPECT_NE(message.find("floating point"), std::string::npos) << message;

  message = ErrorOf(Write("cube.safetensors", {{"emb_params", at::zeros({1, 2, kWidth})}}));
  EXPECT_NE(message.find("[vectors, width]"), std::string::npos) << message;

  message = ErrorOf(Write("nan.safetensors", {{"emb_params", at::full({1, kWidth}, NAN)}}));
  EXPECT_NE(message.find("NaN"), std::string::npos) << message;
}

TEST(TextualInversionFile, FolderReadsEverySafetensorsByStemAndRefusesPickles) {
  const std::string dir = testing::ScratchDir() + "/ti-folder";
  std::filesystem::create_directories(dir + "/sub");
  ASSERT_TRUE(WriteSafetensors(dir + "/sub/beta.safetensors", {{"emb_params", at::ones({2, kWidth})}}).ok());
  ASSERT_TRUE(WriteSafetensors(dir + "/alpha.safetensors", {{"emb_params", at::ones({1, kWidth})}}).ok());
  std::ofstream(dir + "/alpha.preview.png") << "not an embedding";
  auto read = ReadTextualInversionDir(dir);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].name, "alpha");
  EXPECT_EQ((*read)[1].name, "beta");
  EXPECT_EQ((*read)[1].vector_count(), 2);

  ASSERT_TRUE(WriteSafetensors(dir + "/beta.safetensors", {{"emb_params", at::ones({1, kWidth})}}).ok());
  auto twice = ReadTextualInversionDir(dir);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("two embeddings named 'beta'"), std::string::npos) << twice.status().ToString();
  std::filesystem::remove(dir + "/beta.safetensors");

  std::ofstream(dir + "/old.pt", std::ios::binary) << std::string("\x80\x02}q\x00.", 6);
  auto pickle = ReadTextualInversionDir(dir);
  ASSERT_FALSE(pickle.ok());
  EXPECT_NE(pickle.status().message().find("old.pt"), std::string::npos) << pickle.status().ToString();
  EXPECT_NE(pickle.status().message().find("pickle"), std::string::npos) << pickle.status().ToString();
  EXPECT_EQ(ReadTextualInversionDir(dir + "/missing").status().code(), StatusCode::kNotFound);
}

TEST(EmbeddingSetTest, WidthNamesAndSizeAreChecked) {
  const ClipTokenizer tokenizer = ByteTokenizer();
  auto wrong = EmbeddingSet::Create(tokenizer, {Made("zz", 1)}, 768);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("8 wide, the text encoder's are 768"), std::string::npos)
      << wrong.status().ToString();
  EXPECT_NE(wrong.status().message().find("'zz'"), std::string::npos);

  auto same = EmbeddingSet::Create(tokenizer, {Made("Zz", 1), Made("zz", 2)}, kWidth);
  ASSERT_FALSE(same.ok());
  EXPECT_NE(same.status().message().find("same word"), std::string::npos) << same.status().ToString();

  EXPECT_FALSE(EmbeddingSet::Create(tokenizer, {Made(" ", 1)}, kWidth).ok());
  EXPECT_FALSE(EmbeddingSet::Create(tokenizer, {Made("big", 76)}, kWidth).ok());
  EXPECT_TRUE(EmbeddingSet::Create(tokenizer, {Made("big", 75)}, kWidth).ok());
}

class EmbeddingChunksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto set = EmbeddingSet::Create(tokenizer_, {Made("zz", 1), Made("zzz", 3, 100.0f), Made("q", 2, 50.0f)}, kWidth);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    set_ = std::move(set).value();
    options_.embeddings = &set_;
  }
  TokenizedPrompt Tokenize(const std::string& text) {
    auto result = TokenizePrompt(tokenizer_, text, options_);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? std::move(result).value() : TokenizedPrompt{};
  }
  int64_t Id(const std::string& token) { return *tokenizer_.TokenId(token); }
  std::string Letters(int count) {
    std::string out;
    for (int i = 0; i < count; ++i) out += "a ";
    return out;
  }

  ClipTokenizer tokenizer_ = ByteTokenizer();
  EmbeddingSet set_;
  PromptChunkOptions options_;
};

TEST_F(EmbeddingChunksTest, NameTakesOneSlotPerVectorLongestNameFirst) {
  const TokenizedPrompt prompt = Tokenize("a zz b zzz c zy");
  ASSERT_EQ(prompt.chunks.size(), 1u);
  const PromptChunk& chunk = prompt.chunks[0];
  // a, zz (1 slot), b, zzz (3 slots), c, then the unknown "zy" stays text: z, y</w>.
  const std::vector<int64_t> body(chunk.ids.begin() + 1, chunk.ids.begin() + 10);
  EXPECT_EQ(body, (std::vector<int64_t>{Id("a</w>"), 0, Id("b</w>"), 0, 0, 0, Id("c</w>"), Id("z"), Id("y</w>")}));
  EXPECT_EQ(chunk.ids[10], tokenizer_.eos_id());
  EXPECT_EQ(prompt.token_count, 9);
  ASSERT_EQ(chunk.fixes.size(), 2u);
  EXPECT_EQ(chunk.fixes[0].offset, 2);
  EXPECT_EQ(chunk.fixes[0].embedding->name, "zz");
  EXPECT_EQ(chunk.fixes[1].offset, 4);
  EXPECT_EQ(chunk.fixes[1].embedding->name, "zzz");
  EXPECT_EQ(prompt.embeddings_used, (std::vector<std::string>{"zz", "zzz"}));

  // Without an embedding set the names are plain words.
  auto plain = TokenizePrompt(tokenizer_, "a zz b", {});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->chunks[0].fixes.empty());
  EXPECT_EQ(plain->chunks[0].ids[2], Id("z"));
}

TEST_F(EmbeddingChunksTest, WeightsApplyToEverySlotOfTheEmbedding) {
  const TokenizedPrompt prompt = Tokenize("(q:1.5) [zz] a");
  const PromptChunk& chunk = prompt.chunks[0];
  ASSERT_EQ(chunk.fixes.size(), 2u);
  EXPECT_EQ(chunk.fixes[0].offset, 1);
  EXPECT_FLOAT_EQ(chunk.weights[1], 1.5f);
  EXPECT_FLOAT_EQ(chunk.weights[2], 1.5f);
  EXPECT_EQ(chunk.fixes[1].offset, 3);
  EXPECT_FLOAT_EQ(chunk.weights[3], static_cast<float>(1 / 1.1));
  EXPECT_FLOAT_EQ(chunk.weights[4], 1.0f);
}

TEST_F(EmbeddingChunksTest, AnEmbeddingThatWouldStraddleStartsTheNextChunk) {
  // 73 letters + 3 vectors = 76 > 75: the whole embedding moves on.
  TokenizedPrompt prompt = Tokenize(Letters(73) + "zzz b");
  ASSERT_EQ(prompt.chunks.size(), 2u);
  EXPECT_TRUE(prompt.chunks[0].fixes.empty());
  EXPECT_EQ(prompt.chunks[0].ids[74], tokenizer_.eos_id());  // padding where it did not fit
  ASSERT_EQ(prompt.chunks[1].fixes.size(), 1u);
  EXPECT_EQ(prompt.chunks[1].fixes[0].offset, 1);
  EXPECT_EQ(prompt.chunks[1].ids[4], Id("b</w>"));
  EXPECT_EQ(prompt.token_count, 75 + 4);

  // 72 letters + 3 vectors fill the chunk exactly.
  prompt = Tokenize(Letters(72) + "zzz b");
  ASSERT_EQ(prompt.chunks.size(), 2u);
  ASSERT_EQ(prompt.chunks[0].fixes.size(), 1u);
  EXPECT_EQ(prompt.chunks[0].fixes[0].offset, 73);
  EXPECT_EQ(prompt.chunks[1].ids[1], Id("b</w>"));
}

TEST_F(EmbeddingChunksTest, CommaLookBackMovesTheFixesWithTheirSlots) {
  // 65 letters, a comma (slot 65), zzz (66-68), 6 letters: full at 75; the next letter
  // moves slots 66.. to the next chunk, the embedding with them.
  const TokenizedPrompt prompt = Tokenize(Letters(65) + ", zzz " + "b b b b b b c");
  ASSERT_EQ(prompt.chunks.size(), 2u);
  EXPECT_TRUE(prompt.chunks[0].fixes.empty());
  EXPECT_EQ(prompt.chunks[0].ids[66], Id(",</w>"));
  EXPECT_EQ(prompt.chunks[0].ids[67], tokenizer_.eos_id());
  ASSERT_EQ(prompt.chunks[1].fixes.size(), 1u);
  EXPECT_EQ(prompt.chunks[1].fixes[0].offset, 1);
  EXPECT_EQ(prompt.chunks[1].ids[4], Id("b</w>"));
  EXPECT_EQ(prompt.chunks[1].ids[10], Id("c</w>"));
}

TEST_F(EmbeddingChunksTest, SubstitutionWritesTheVectorsAtTheirSlots) {
  TokenizedPrompt prompt = Tokenize("a q b");
  at::Tensor embedded = at::zeros({1, 77, kWidth});
  ASSERT_TRUE(SubstituteEmbeddings(embedded, prompt.chunks).ok());
  EXPECT_TRUE(at::equal(embedded[0].narrow(0, 2, 2), Made("q", 2, 50.0f).vectors));
  EXPECT_EQ(embedded.abs().sum().item<float>(), Made("q", 2, 50.0f).vectors.abs().sum().item<float>());
  EXPECT_TRUE(HasEmbeddingFixes(prompt.chunks));
  EXPECT_FALSE(HasEmbeddingFixes(Tokenize("a b").chunks));

  at::Tensor narrow = at::zeros({1, 77, kWidth + 1});
  EXPECT_FALSE(SubstituteEmbeddings(narrow, prompt.chunks).ok());
}

}  // namespace
}  // namespace farm::sd
