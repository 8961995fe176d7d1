// Textual-inversion embeddings through the engine: the prompt conditioning with an
// embedding's name equals CLIP run on the token embeddings with its vectors put in
// directly; renders use them in either prompt and say which they used.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "farm/sd/engine.h"
#include "farm/sd/prompt.h"
#include "tiny_engine_suite.h"

namespace farm::sd {
namespace {

class TextualInversionRenderTest : public testing::TinyEngineSuite {
 protected:
  static void SetUpTestSuite() { LoadTinyEngine("tiny-ti", 5); }

  static TextualInversion Random(const std::string& name, int64_t count, uint64_t seed) {
    at::Generator generator = at::detail::createCPUGenerator(seed);
    TextualInversion embedding;
    embedding.name = name;
    embedding.vectors = at::randn({count, engine_->text_model().hidden_size()}, generator) * 0.02;
    embedding.path = name + ".safetensors";
    return embedding;
  }

  static EmbeddingSet Set(std::vector<TextualInversion> embeddings) {
    auto set = EmbeddingSet::Create(engine_->tokenizer(), std::move(embeddings), engine_->text_model().hidden_size());
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    return set.ok() ? std::move(set).value() : EmbeddingSet();
  }

  // 77-id chunks run as one CLIP batch (as the engine runs a prompt's chunks): BOS, the
  // chunk's ids (-1 marks a slot for the next vector of `vectors`), EOS padding; the
  // token embeddings of the slots replaced by hand. [1, 77 * chunks, hidden].
  static at::Tensor DirectChunks(const std::vector<std::vector<int64_t>>& chunks, const at::Tensor& vectors,
                                 int clip_skip) {
    const ClipTokenizer& tokenizer = engine_->tokenizer();
    std::vector<int64_t> all;
    std::vector<std::pair<int64_t, int64_t>> slots;  // chunk, position
    for (size_t c = 0; c < chunks.size(); ++c) {
      std::vector<int64_t> row = {tokenizer.bos_id()};
      for (int64_t id : chunks[c]) {
        if (id < 0) slots.emplace_back(static_cast<int64_t>(c), static_cast<int64_t>(row.size()));
        row.push_back(id < 0 ? 0 : id);
      }
      row.resize(77, tokenizer.eos_id());
      all.insert(all.end(), row.begin(), row.end());
    }
    const at::Tensor ids = at::tensor(all, at::kLong).reshape({static_cast<int64_t>(chunks.size()), 77});
    at::Tensor embedded = engine_->text_model().TokenEmbeddings(ids).value();
    for (size_t i = 0; i < slots.size(); ++i) {
      embedded[slots[i].first][slots[i].second] = vectors[static_cast<int64_t>(i)];
    }
    at::Tensor z = engine_->text_model().ForwardEmbeddings(embedded, clip_skip).value();
    return z.reshape({1, -1, z.size(-1)});
  }

  static std::vector<int64_t> Ids(const std::string& text) { return engine_->tokenizer().Encode(text); }

  static std::vector<int64_t> Join(std::vector<std::vector<int64_t>> parts) {
    std::vector<int64_t> out;
    for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
    return out;
  }

  static RenderRequest SmallRequest() {
    RenderRequest r;
    r.prompt = "a studio portrait, soft light";
    r.negative_prompt = "blurry";
    r.sampler = "Euler";
    r.steps = 2;
    r.seed = 7;
    r.width = 64;
    r.height = 48;
    return r;
  }
};

TEST_F(TextualInversionRenderTest, OneVectorEmbeddingEqualsItsVectorSubstitutedDirectly) {
  const TextualInversion one = Random("tione", 1, 1);
  const EmbeddingSet set = Set({one});
  for (int clip_skip : {1, 2}) {
    auto z = engine_->EncodePrompt("portrait of tione in studio light", clip_skip, 0, &set);
    ASSERT_TRUE(z.ok()) << z.status().ToString();
    const at::Tensor expected =
        DirectChunks({Join({Ids("portrait of"), {-1}, Ids("in studio light")})}, one.vectors, clip_skip);
    ASSERT_EQ(z->sizes(), (at::IntArrayRef{1, 77, engine_->text_model().hidden_size()}));
    EXPECT_TRUE(at::allclose(*z, expected, 0, 1e-6)) << "clip skip " << clip_skip << ": max difference "
                                                      << (*z - expected).abs().max().item<float>();
  }
  // Without the set the name is words, and differs.
  auto plain = engine_->EncodePrompt("portrait of tione in studio light", 1);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(at::allclose(*plain, *engine_->EncodePrompt("portrait of tione in studio light", 1, 0, &set)));
}

TEST_F(TextualInversionRenderTest, ThreeVectorEmbeddingAtAChunkBoundaryMovesWholeToTheNextChunk) {
  const TextualInversion three = Random("tithree", 3, 2);
  const EmbeddingSet set = Set({three});
  std::string filler;
  for (int i = 0; i < 73; ++i) filler += "a ";
  ASSERT_EQ(Ids(filler).size(), 73u);
  auto z = engine_->EncodePrompt(filler + "tithree b", 1, 0, &set);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  ASSERT_EQ(z->size(1), 2 * 77);
  const at::Tensor expected = DirectChunks({Ids(filler), Join({{-1, -1, -1}, Ids("b")})}, three.vectors, 1);
  EXPECT_TRUE(at::allclose(*z, expected, 0, 1e-6)) << (*z - expected).abs().max().item<float>();

  // 72 tokens before it: the three vectors fill the first chunk to 75.
  std::string shorter;
  for (int i = 0; i < 72; ++i) shorter += "a ";
  auto fits = engine_->EncodePrompt(shorter + "tithree b", 1, 0, &set);
  ASSERT_TRUE(fits.ok());
  const at::Tensor fits_expected = DirectChunks({Join({Ids(shorter), {-1, -1, -1}}), Ids("b")}, three.vectors, 1);
  EXPECT_TRUE(at::allclose(*fits, fits_expected, 0, 1e-6)) << (*fits - fits_expected).abs().max().item<float>();
}

TEST_F(TextualInversionRenderTest, VectorsTakenFromTheTokenTableGiveThoseWordsOutput) {
  const at::Tensor table = engine_->text_model().weights().at("text_model.embeddings.token_embedding.weight");
  const std::vector<int64_t> words = Ids("golden hour");
  TextualInversion rows;
  rows.name = "tigold";
  rows.vectors = table.index_select(0, at::tensor(words, at::kLong)).to(at::kFloat);
  const EmbeddingSet set = Set({rows});
  auto with_embedding = engine_->EncodePrompt("portrait, (tigold:1.3), rim light", 2, 0, &set);
  auto with_words = engine_->EncodePrompt("portrait, (golden hour:1.3), rim light", 2);
  ASSERT_TRUE(with_embedding.ok() && with_words.ok()) << with_embedding.status().ToString();
  EXPECT_TRUE(at::equal(*with_embedding, *with_words));
}

TEST_F(TextualInversionRenderTest, RendersUseEmbeddingsInEitherPromptAndNameThem) {
  RenderRequest r = SmallRequest();
  auto plain = engine_->Render(r);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_TRUE(plain->embeddings_used.empty());

  r.embeddings = {Random("tineg", 2, 3), Random("tiface", 1, 4), Random("tiunused", 1, 5)};
  auto unused = engine_->Render(r);  // loaded but not named: the same pixels
  ASSERT_TRUE(unused.ok()) << unused.status().ToString();
  EXPECT_TRUE(at::equal(unused->images, plain->images));
  EXPECT_TRUE(unused->embeddings_used.empty());

  r.prompt = "a studio portrait of tiface, soft light";
  r.negative_prompt = "blurry, tineg, tiface";
  auto used = engine_->Render(r);
  ASSERT_TRUE(used.ok()) << used.status().ToString();
  EXPECT_EQ(used->embeddings_used, (std::vector<std::string>{"tiface", "tineg"}));
  EXPECT_FALSE(at::equal(used->latents, plain->latents));

  r.embeddings.push_back(TextualInversion{"tiwide", at::zeros({1, engine_->text_model().hidden_size() + 1}), "w.st"});
  auto wide = engine_->Render(r);
  ASSERT_FALSE(wide.ok());
  EXPECT_NE(wide.status().message().find("'tiwide'"), std::string::npos) << wide.status().ToString();
  EXPECT_NE(wide.status().message().find("the text encoder's are " +
                                         std::to_string(engine_->text_model().hidden_size())),
            std::string::npos)
      << wide.status().ToString();
}

}  // namespace
}  // namespace farm::sd
