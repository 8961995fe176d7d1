// farm-train's pure parts: the train record read into settings (EasyPhoto defaults, the
// record's overrides, errors naming the key) and checkpoint selection by injected face-ID
// scores (the tiny model draws no faces, so the real scores are all empty).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "farm/agent/checkpoint_selection.h"
#include "farm/agent/face_validation.h"
#include "farm/agent/train_config.h"

namespace farm::agent {
namespace {

TEST(TrainConfigTest, EasyPhotoDefaultsAndRecordOverrides) {
  auto c = ParseTrainConfig(R"({"save_steps":[1600,800],"identity":"ana","checkpoint":"abc","photos":"def"})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->checkpoint_sha256, "abc");  // the canonical record's key
  EXPECT_EQ(c->photos_sha256, "def");
  EXPECT_EQ(c->ranks, 1);
  EXPECT_EQ(c->network.rank, 128);
  EXPECT_EQ(c->network.alpha, 64);
  EXPECT_DOUBLE_EQ(c->trainer.unet_lr, 1e-4);
  EXPECT_DOUBLE_EQ(c->trainer.text_encoder_lr, 5e-5);
  EXPECT_EQ(c->trainer.gradient_accumulation, 4);
  EXPECT_EQ(c->trainer.batch_per_rank, 1);
  EXPECT_EQ(c->trainer.max_steps, 1600);
  EXPECT_EQ(c->save_steps, (std::vector<int64_t>{800, 1600}));
  EXPECT_EQ(c->trainer.lr_scheduler, "constant");
  EXPECT_DOUBLE_EQ(c->trainer.adamw.weight_decay, 1e-2);
  EXPECT_DOUBLE_EQ(c->trainer.max_grad_norm, 1.0);

  auto o = ParseTrainConfig(R"({"save_steps":[10],"rank":8,"alpha":4,"learning_rate":2e-4,"seed":7,
      "extra":{"lr_scheduler":"cosine","warmup_steps":"2","flip":"true","min_snr_gamma":5,
               "validate_every":5,"validation_seeds":"3,4,5","top_k":2}})");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->network.rank, 8);
  EXPECT_DOUBLE_EQ(o->trainer.text_encoder_lr, 1e-4);  // half the UNet's when not given
  EXPECT_EQ(o->trainer.lr_scheduler, "cosine");
  EXPECT_EQ(o->trainer.warmup_steps, 2);
  EXPECT_TRUE(o->trainer.flip);
  EXPECT_TRUE(o->validate);
  EXPECT_EQ(o->validation.seeds, (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(o->trainer.seed, 7u);
  EXPECT_NE(TrainingFingerprint(*c), TrainingFingerprint(*o));
}

TEST(TrainConfigTest, BadRecordsNameTheKey) {
  for (const auto& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {R"({"save_steps":[]})", "save_steps"},
           {R"({"save_steps":[10],"rank":"big"})", "rank"},
           {R"({"save_steps":[10],"extra":{"noise_offset":"lots"}})", "noise_offset"},
           {R"({"save_steps":[10],"extra":{"flip":"maybe"}})", "flip"},
           {R"({"save_steps":[10],"resolution":100})", "resolution"},
           {R"(["not an object"])", "JSON object"}}) {
    auto c = ParseTrainConfig(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().ToString().find(key), std::string::npos) << c.status().ToString();
  }
}

TEST(CheckpointSelectionTest, BestScoreEarliestOnTiesTopKAndFallback) {
  const std::map<int64_t, std::optional<double>> scores = {
      {200, 0.41}, {400, 0.55}, {600, std::nullopt}, {800, 0.55}, {1000, 0.47}};
  CheckpointSelection s = SelectCheckpoints(scores, 3, 1000);
  EXPECT_EQ(s.best_step, 400);
  EXPECT_DOUBLE_EQ(*s.best_score, 0.55);
  EXPECT_EQ(s.top_steps, (std::vector<int64_t>{400, 800, 1000}));
  EXPECT_TRUE(s.reason.empty());

  CheckpointSelection none = SelectCheckpoints({{200, std::nullopt}, {400, std::nullopt}}, 2, 400);
  EXPECT_EQ(none.best_step, 400);
  EXPECT_FALSE(none.best_score.has_value());
  EXPECT_TRUE(none.top_steps.empty());
  EXPECT_NE(none.reason.find("no validation render showed a face"), std::string::npos);
}

TEST(CheckpointSelectionTest, StepScoreCountsRendersWithoutAFaceAsZero) {
  EXPECT_FALSE(StepScore({{1, 0, std::nullopt}, {2, 0, std::nullopt}}).has_value());
  EXPECT_DOUBLE_EQ(*StepScore({{1, 1, 0.8}, {2, 0, std::nullopt}}), 0.4);
  EXPECT_DOUBLE_EQ(*StepScore({{1, 1, 0.8}, {2, 2, 0.6}}), 0.7);
}

TEST(CheckpointSelectionTest, AverageIsElementWiseAndKeepsAlpha) {
  sd::TensorMap a = {{"m.lora_down.weight", at::tensor({1.0f, 2.0f})}, {"m.alpha", at::scalar_tensor(4.0f)}};
  sd::TensorMap b = {{"m.lora_down.weight", at::tensor({3.0f, 6.0f})}, {"m.alpha", at::scalar_tensor(4.0f)}};
  auto mean = AverageLoras({a, b});
  ASSERT_TRUE(mean.ok()) << mean.status().ToString();
  EXPECT_TRUE(at::equal(mean->at("m.lora_down.weight"), at::tensor({2.0f, 4.0f})));
  EXPECT_EQ(mean->at("m.alpha").item<float>(), 4.0f);
  sd::TensorMap c = {{"m.lora_down.weight", at::tensor({1.0f, 2.0f})}, {"m.alpha", at::scalar_tensor(8.0f)}};
  EXPECT_FALSE(AverageLoras({a, c}).ok());
  sd::TensorMap d = {{"x.lora_down.weight", at::tensor({1.0f, 2.0f})}, {"m.alpha", at::scalar_tensor(4.0f)}};
  EXPECT_FALSE(AverageLoras({a, d}).ok());
}

}  // namespace
}  // namespace farm::agent
