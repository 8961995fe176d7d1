#include "farm/sd/clip_text_model.h"

#include <gtest/gtest.h>

#include "model_test_util.h"

namespace farm::sd {
namespace {

using testing::AllClose;
using testing::ConfigNumber;
using testing::IoTensor;

ClipTextOptions TinyOptions(const Json& config) {
  ClipTextOptions options;
  options.num_heads = static_cast<int64_t>(ConfigNumber(config, "clip_config", "num_attention_heads"));
  options.layer_norm_eps = ConfigNumber(config, "clip_config", "layer_norm_eps");
  return options;
}

class ClipTextModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FARM_SD_REQUIRE_REFERENCE(dir);
    ref_ = testing::LoadTinyReference(dir);
    ASSERT_FALSE(ref_.weights.text_encoder.empty());
    auto model = ClipTextModel::Create(ref_.weights.text_encoder, TinyOptions(ref_.config));
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    model_.emplace(std::move(*model));
    ids_ = IoTensor(ref_, "clip_input_ids");
  }

  testing::TinyReference ref_;
  std::optional<ClipTextModel> model_;
  at::Tensor ids_;
};

TEST_F(ClipTextModelTest, SizesComeFromShapes) {
  EXPECT_EQ(model_->hidden_size(), ConfigNumber(ref_.config, "clip_config", "hidden_size"));
  EXPECT_EQ(model_->num_layers(), ConfigNumber(ref_.config, "clip_config", "num_hidden_layers"));
  EXPECT_EQ(model_->intermediate_size(), ConfigNumber(ref_.config, "clip_config", "intermediate_size"));
  EXPECT_EQ(model_->vocab_size(), ConfigNumber(ref_.config, "clip_config", "vocab_size"));
  EXPECT_EQ(model_->max_positions(), ConfigNumber(ref_.config, "clip_config", "max_position_embeddings"));
}

TEST_F(ClipTextModelTest, LastHiddenStateMatchesReference) {
  auto out = model_->Forward(ids_, 1);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(AllClose("clip_last_hidden_state", *out, IoTensor(ref_, "clip_last_hidden_state")));
}

TEST_F(ClipTextModelTest, ClipSkipTwoMatchesPenultimateReference) {
  auto out = model_->Forward(ids_, 2);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(AllClose("clip_penultimate_ln", *out, IoTensor(ref_, "clip_penultimate_ln")));
}

TEST_F(ClipTextModelTest, HiddenStatesMatchReference) {
  auto states = model_->HiddenStates(ids_);
  ASSERT_TRUE(states.ok()) << states.status().ToString();
  ASSERT_EQ(static_cast<int64_t>(states->size()), model_->num_layers() + 1);
  for (size_t i = 0; i < states->size(); ++i) {
    const std::string name = "clip_hidden_states_" + std::to_string(i);
    EXPECT_TRUE(AllClose(name, (*states)[i], IoTensor(ref_, name)));
  }
}

TEST_F(ClipTextModelTest, ForwardFromTokenEmbeddingsEqualsForwardFromIds) {
  auto embedded = model_->TokenEmbeddings(ids_);
  ASSERT_TRUE(embedded.ok()) << embedded.status().ToString();
  auto states = model_->HiddenStates(ids_);
  ASSERT_TRUE(states.ok());
  const at::Tensor positions =
      model_->weights().at("text_model.embeddings.position_embedding.weight").slice(0, 0, ids_.size(1));
  EXPECT_TRUE(at::equal(*embedded + positions, (*states)[0]));
  for (int skip : {1, 2}) {
    auto from_ids = model_->Forward(ids_, skip);
    auto from_embeddings = model_->ForwardEmbeddings(*embedded, skip);
    ASSERT_TRUE(from_ids.ok() && from_embeddings.ok()) << from_embeddings.status().ToString();
    EXPECT_TRUE(at::equal(*from_ids, *from_embeddings)) << "clip skip " << skip;
  }
  // Rows replaced by the token table's rows of other ids give those ids' output.
  at::Tensor other_ids = ids_.clone();
  other_ids.select(1, 1).fill_(7);
  at::Tensor substituted = embedded->clone();
  substituted.select(1, 1).copy_(model_->weights().at("text_model.embeddings.token_embedding.weight")[7]);
  EXPECT_TRUE(at::equal(*model_->ForwardEmbeddings(substituted, 1), *model_->Forward(other_ids, 1)));

  EXPECT_FALSE(model_->ForwardEmbeddings(embedded->narrow(2, 0, 4), 1).ok());
  EXPECT_FALSE(model_->ForwardEmbeddings(*embedded, 0).ok());
  EXPECT_FALSE(model_->TokenEmbeddings(at::full({1, 2}, model_->vocab_size(), at::kLong)).ok());
}

TEST_F(ClipTextModelTest, InPlaceWeightUpdateIsSeenByNextForward) {
  auto before = model_->Forward(ids_, 1);
  ASSERT_TRUE(before.ok());
  model_->weights()["text_model.final_layer_norm.bias"].add_(1.0);
  auto after = model_->Forward(ids_, 1);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(AllClose("shifted by the bias update", *after, *before + 1.0, 1e-5, 0));
}

TEST_F(ClipTextModelTest, RejectsBadInputs) {
  EXPECT_FALSE(model_->Forward(ids_, 0).ok());
  EXPECT_FALSE(model_->Forward(ids_, static_cast<int>(model_->num_layers()) + 1).ok());
  auto out_of_vocab = model_->Forward(at::full({1, 3}, model_->vocab_size(), at::kLong), 1);
  ASSERT_FALSE(out_of_vocab.ok());
  EXPECT_NE(out_of_vocab.status().message().find("out of range"), std::string::npos);
  EXPECT_FALSE(model_->Forward(at::zeros({1, model_->max_positions() + 1}, at::kLong), 1).ok());
  EXPECT_FALSE(model_->Forward(at::zeros({3}, at::kLong), 1).ok());
}

TEST_F(ClipTextModelTest, NamesEveryMissingExtraAndMisshapedWeight) {
  TensorMap weights = ref_.weights.text_encoder;
  const std::string removed = "text_model.encoder.layers.1.layer_norm2.bias";
  const std::string reshaped = "text_model.encoder.layers.0.mlp.fc2.weight";
  ASSERT_EQ(weights.erase(removed), 1u);
  const at::Tensor original = weights.at(reshaped);
  weights[reshaped] = at::zeros({original.size(0), original.size(1) + 1});
  weights["text_model.encoder.layers.0.extra.weight"] = at::zeros({2});
  weights["text_model.embeddings.position_ids"] = at::arange(77).unsqueeze(0);  // a buffer: dropped
  auto model = ClipTextModel::Create(weights, TinyOptions(ref_.config));
  ASSERT_FALSE(model.ok());
  const std::string& message = model.status().message();
  EXPECT_NE(message.find("missing: " + removed), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected: text_model.encoder.layers.0.extra.weight"), std::string::npos)
      << message;
  EXPECT_NE(message.find(reshaped + ": expected shape [" + std::to_string(original.size(0)) + ", " +
                         std::to_string(original.size(1)) + "], found [" +
                         std::to_string(original.size(0)) + ", " +
                         std::to_string(original.size(1) + 1) + "]"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("position_ids"), std::string::npos) << message;
}

}  // namespace
}  // namespace farm::sd
