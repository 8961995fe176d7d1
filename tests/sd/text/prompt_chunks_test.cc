// Chunking of long prompts (A1111's tokenize_line) and the emphasis on CLIP's output.
#include <gtest/gtest.h>

#include <cmath>

#include "farm/sd/prompt.h"
#include "test_vocab.h"

namespace farm::sd {
namespace {

// Byte tokens only: every one-letter word and every comma is exactly one token.
ClipTokenizer ByteTokenizer() {
  const testing::TestVocab vocab = testing::MakeTestVocab({});
  auto tokenizer = ClipTokenizer::FromText(vocab.vocab_json, vocab.merges_txt);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  return std::move(tokenizer).value();
}

std::string Repeat(const std::string& word, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) out += word + " ";
  return out;
}

class PromptChunksTest : public ::testing::Test {
 protected:
  TokenizedPrompt Tokenize(const std::string& text, const PromptChunkOptions& options = {}) {
    auto result = TokenizePrompt(tokenizer_, text, options);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? std::move(result).value() : TokenizedPrompt{};
  }
  int64_t Id(const std::string& token) { return *tokenizer_.TokenId(token); }
  // The 75 prompt positions of a chunk (without BOS/EOS).
  std::vector<int64_t> Body(const PromptChunk& chunk) {
    return std::vector<int64_t>(chunk.ids.begin() + 1, chunk.ids.end() - 1);
  }

  ClipTokenizer tokenizer_ = ByteTokenizer();
  const int64_t bos_ = tokenizer_.bos_id();
  const int64_t eos_ = tokenizer_.eos_id();
};

TEST_F(PromptChunksTest, EmptyPromptIsOnePaddedChunk) {
  const TokenizedPrompt prompt = Tokenize("");
  ASSERT_EQ(prompt.chunks.size(), 1u);
  EXPECT_EQ(prompt.token_count, 0);
  const PromptChunk& chunk = prompt.chunks[0];
  ASSERT_EQ(chunk.ids.size(), 77u);
  ASSERT_EQ(chunk.weights.size(), 77u);
  EXPECT_EQ(chunk.ids[0], bos_);
  for (size_t i = 1; i < 77; ++i) EXPECT_EQ(chunk.ids[i], eos_);
  for (float w : chunk.weights) EXPECT_EQ(w, 1.0f);
  EXPECT_EQ(chunk.ids, EmptyPromptChunk(tokenizer_).ids);
}

TEST_F(PromptChunksTest, WeightsFollowTheirTokens) {
  const TokenizedPrompt prompt = Tokenize("a (b:1.5) [c]");
  ASSERT_EQ(prompt.chunks.size(), 1u);
  EXPECT_EQ(prompt.token_count, 3);
  const PromptChunk& chunk = prompt.chunks[0];
  EXPECT_EQ(chunk.ids[1], Id("a</w>"));
  EXPECT_EQ(chunk.ids[2], Id("b</w>"));
  EXPECT_EQ(chunk.ids[3], Id("c</w>"));
  EXPECT_EQ(chunk.ids[4], eos_);
  EXPECT_FLOAT_EQ(chunk.weights[0], 1.0f);
  EXPECT_FLOAT_EQ(chunk.weights[1], 1.0f);
  EXPECT_FLOAT_EQ(chunk.weights[2], 1.5f);
  EXPECT_FLOAT_EQ(chunk.weights[3], static_cast<float>(1 / 1.1));
  EXPECT_FLOAT_EQ(chunk.weights[4], 1.0f);
  EXPECT_FLOAT_EQ(chunk.weights[76], 1.0f);
}

TEST_F(PromptChunksTest, LongPromptsSplitEvery75Tokens) {
  EXPECT_EQ(Tokenize(Repeat("a", 75)).chunks.size(), 1u);
  EXPECT_EQ(Tokenize(Repeat("a", 76)).chunks.size(), 2u);
  const TokenizedPrompt prompt = Tokenize(Repeat("a", 151));
  ASSERT_EQ(prompt.chunks.size(), 3u);
  EXPECT_EQ(prompt.token_count, 151);
  for (int c = 0; c < 2; ++c) {
    EXPECT_EQ(prompt.chunks[c].ids[0], bos_);
    EXPECT_EQ(prompt.chunks[c].ids[75], Id("a</w>"));
    EXPECT_EQ(prompt.chunks[c].ids[76], eos_);
  }
  EXPECT_EQ(prompt.chunks[2].ids[1], Id("a</w>"));
  EXPECT_EQ(prompt.chunks[2].ids[2], eos_);
}

TEST_F(PromptChunksTest, BreakStartsANewChunk) {
  const TokenizedPrompt prompt = Tokenize("a BREAK b");
  ASSERT_EQ(prompt.chunks.size(), 2u);
  EXPECT_EQ(prompt.chunks[0].ids[1], Id("a</w>"));
  EXPECT_EQ(prompt.chunks[0].ids[2], eos_);
  EXPECT_EQ(prompt.chunks[1].ids[1], Id("b</w>"));
  EXPECT_EQ(prompt.token_count, 75 + 1);
  // A1111: a leading BREAK closes an empty chunk; a trailing one adds nothing.
  EXPECT_EQ(Tokenize("BREAK a").chunks.size(), 2u);
  EXPECT_EQ(Tokenize("a BREAK").chunks.size(), 1u);
  // With attention parsing off (A1111's emphasis "None") BREAK is a word.
  PromptChunkOptions literal;
  literal.parse_attention = false;
  EXPECT_EQ(Tokenize("a BREAK b", literal).chunks.size(), 1u);
}

TEST_F(PromptChunksTest, TextAfterANearbyCommaMovesToTheNextChunk) {
  // 70 a, a comma at position 70, then 10 weighted b: the chunk fills at 75 with the
  // comma 5 tokens back, so the 4 b after it move on with their weights.
  const TokenizedPrompt prompt = Tokenize(Repeat("a", 70) + ", (" + Repeat("b", 10) + ":1.3)");
  ASSERT_EQ(prompt.chunks.size(), 2u);
  const std::vector<int64_t> first = Body(prompt.chunks[0]);
  EXPECT_EQ(first[69], Id("a</w>"));
  EXPECT_EQ(first[70], Id(",</w>"));
  for (size_t i = 71; i < 75; ++i) EXPECT_EQ(first[i], eos_) << i;
  const std::vector<int64_t> second = Body(prompt.chunks[1]);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(second[i], Id("b</w>")) << i;
    EXPECT_FLOAT_EQ(prompt.chunks[1].weights[i + 1], 1.3f) << i;
  }
  EXPECT_EQ(second[10], eos_);
  EXPECT_FLOAT_EQ(prompt.chunks[0].weights[72], 1.0f);  // padding keeps weight 1
}

TEST_F(PromptChunksTest, CommaTooFarBackOrDisabledDoesNotMoveText) {
  // The comma is 25 tokens before the end: more than 20, so the chunk is cut as it is.
  const TokenizedPrompt far = Tokenize(Repeat("a", 50) + ", " + Repeat("b", 30));
  ASSERT_EQ(far.chunks.size(), 2u);
  EXPECT_EQ(Body(far.chunks[0])[74], Id("b</w>"));
  EXPECT_EQ(Body(far.chunks[1])[5], Id("b</w>"));
  EXPECT_EQ(Body(far.chunks[1])[6], eos_);

  PromptChunkOptions no_backtrack;
  no_backtrack.comma_backtrack = 0;
  const TokenizedPrompt off = Tokenize(Repeat("a", 70) + ", " + Repeat("b", 10), no_backtrack);
  ASSERT_EQ(off.chunks.size(), 2u);
  EXPECT_EQ(Body(off.chunks[0])[74], Id("b</w>"));

  // A comma arriving when the chunk is full opens the next chunk.
  const TokenizedPrompt comma_last = Tokenize(Repeat("a", 75) + ", b");
  ASSERT_EQ(comma_last.chunks.size(), 2u);
  EXPECT_EQ(Body(comma_last.chunks[1])[0], Id(",</w>"));
  EXPECT_EQ(Body(comma_last.chunks[1])[1], Id("b</w>"));
}

TEST_F(PromptChunksTest, EqualizePadsWithEmptyChunksAndTensorsLineUp) {
  std::vector<PromptChunk> cond = Tokenize(Repeat("a", 160)).chunks;
  std::vector<PromptChunk> uncond = Tokenize("b").chunks;
  ASSERT_EQ(cond.size(), 3u);
  EqualizeChunkCounts(cond, uncond, tokenizer_);
  ASSERT_EQ(uncond.size(), 3u);
  EXPECT_EQ(uncond[1].ids, EmptyPromptChunk(tokenizer_).ids);
  EXPECT_EQ(uncond[2].weights, EmptyPromptChunk(tokenizer_).weights);
  EqualizeChunkCounts(uncond, cond, tokenizer_);
  EXPECT_EQ(cond.size(), 3u);

  const at::Tensor ids = ChunkIdsTensor(cond);
  ASSERT_EQ(ids.sizes(), (at::IntArrayRef{3, 77}));
  EXPECT_EQ(ids.scalar_type(), at::kLong);
  EXPECT_EQ(ids[1][0].item<int64_t>(), bos_);
  EXPECT_EQ(ids[2][10].item<int64_t>(), Id("a</w>"));
  EXPECT_EQ(ids[2][11].item<int64_t>(), eos_);
  EXPECT_EQ(ChunkWeights(cond).size(), 3u * 77u);
}

TEST(PromptWeightsTest, ScalesTokensAndRestoresEachChunkMean) {
  at::manual_seed(7);
  const at::Tensor z = at::randn({2, 154, 8}, at::kFloat) + 0.5;
  std::vector<float> weights(154, 1.0f);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 0.6f + 0.01f * static_cast<float>(i % 50);
  auto out = ApplyPromptWeights(z, weights);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->sizes(), z.sizes());
  const at::Tensor w = at::tensor(weights).view({1, 154, 1});
  for (int64_t c = 0; c < 2; ++c) {
    const at::Tensor before = z.narrow(1, c * 77, 77);
    const at::Tensor after = out->narrow(1, c * 77, 77);
    EXPECT_NEAR(after.mean().item<double>(), before.mean().item<double>(), 1e-5);
    const at::Tensor weighted = before * w.narrow(1, c * 77, 77);
    const at::Tensor expected = weighted * (before.mean() / weighted.mean());
    EXPECT_TRUE(at::allclose(after, expected, 1e-5, 1e-6));
  }
  // The two chunks are rescaled separately.
  const double scale0 = (out->narrow(1, 0, 77) / (z.narrow(1, 0, 77) * w.narrow(1, 0, 77))).mean().item<double>();
  const double scale1 = (out->narrow(1, 77, 77) / (z.narrow(1, 77, 77) * w.narrow(1, 77, 77))).mean().item<double>();
  EXPECT_GT(std::abs(scale0 - scale1), 1e-4);
}

TEST(PromptWeightsTest, UnitWeightsChangeNothingAndShapesAreChecked) {
  const at::Tensor z = at::randn({77, 4}, at::kFloat);
  auto same = ApplyPromptWeights(z, std::vector<float>(77, 1.0f));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->sizes(), z.sizes());
  EXPECT_TRUE(at::allclose(*same, z));
  EXPECT_FALSE(ApplyPromptWeights(z, std::vector<float>(76, 1.0f)).ok());
  EXPECT_FALSE(ApplyPromptWeights(at::randn({1, 76, 4}), std::vector<float>(76, 1.0f)).ok());
  EXPECT_FALSE(ApplyPromptWeights(at::ones({1, 77, 4}, at::kLong), std::vector<float>(77, 1.0f)).ok());
  EXPECT_FALSE(ApplyPromptWeights(at::Tensor(), {}).ok());
}

}  // namespace
}  // namespace farm::sd
