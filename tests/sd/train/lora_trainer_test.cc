// The training loop on the tiny reference model: determinism, bit-identical resume, the
// same samples however the global batch is split over ranks, schedules, and a non-finite
// loss stopping the run with the last good weights kept.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "farm/sd/lora_trainer.h"
#include "reference_paths.h"
#include "tiny_models.h"

namespace farm::sd {
namespace {

class LoraTrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::FindSd15ReferenceDir();
    if (!dir) GTEST_SKIP() << "sd15 reference data not found (set FARM_SD_REFERENCE)";
    parts_ = testing::LoadTinyParts(*dir);
    at::manual_seed(5);
    for (int i = 0; i < 3; ++i) {
      TrainExample e;
      e.latent = at::randn({4, 8, 8});
      e.latent_flip = e.latent.flip({2});
      e.input_ids = at::randint(0, 999, {77}, at::kLong);
      examples_.push_back(e);
    }
  }

  struct Run {
    std::unique_ptr<UNet> unet;
    std::unique_ptr<ClipTextModel> text;
    std::unique_ptr<LoraNetwork> network;
    std::unique_ptr<LoraTrainer> trainer;
  };

  Run Make(TrainerOptions options, int rank = 0, int world = 1, std::vector<TrainExample> examples = {}) {
    Run r;
    testing::TinyModels models = testing::MakeTinyModels(parts_);
    r.text = std::move(models.text);
    r.unet = std::move(models.unet);
    LoraNetworkOptions net;
    net.rank = 4;
    net.alpha = 2;
    auto network = LoraNetwork::Create(*r.unet, *r.text, net);
    EXPECT_TRUE(network.ok()) << network.status().ToString();
    r.network = std::move(network).value();
    r.network->InitKohya(options.seed);
    r.network->Attach(r.unet.get(), r.text.get());
    auto trainer = LoraTrainer::Create(r.unet.get(), r.text.get(), r.network.get(), options,
                                       examples.empty() ? examples_ : examples, rank, world);
    EXPECT_TRUE(trainer.ok()) << trainer.status().ToString();
    r.trainer = std::move(*trainer);
    return r;
  }

  static TrainerOptions Options() {
    TrainerOptions o;
    o.max_steps = 4;
    o.gradient_accumulation = 2;
    o.flip = true;
    o.noise_offset = 0.05;
    o.min_snr_gamma = 5;
    o.seed = 42;
    return o;
  }

  testing::TinyParts parts_;
  std::vector<TrainExample> examples_;
};

TEST_F(LoraTrainerTest, SameSpecSameWeightsAndResumeIsBitIdentical) {
  Run a = Make(Options());
  Run b = Make(Options());
  for (int i = 0; i < 4; ++i) {
    auto sa = a.trainer->Step(nullptr);
    ASSERT_TRUE(sa.ok()) << sa.status().ToString();
    ASSERT_TRUE(b.trainer->Step(nullptr).ok());
    EXPECT_EQ(sa->step, i + 1);
    EXPECT_TRUE(std::isfinite(sa->loss));
    EXPECT_GT(sa->grad_norm, 0);
  }
  EXPECT_TRUE(at::equal(a.network->flat_params(), b.network->flat_params()));

  // Two steps, save, a fresh process-like set of objects restores and does two more.
  Run first = Make(Options());
  ASSERT_TRUE(first.trainer->Step(nullptr).ok());
  ASSERT_TRUE(first.trainer->Step(nullptr).ok());
  const TensorMap state = first.trainer->SaveState();
  Run resumed = Make(Options());
  ASSERT_TRUE(resumed.trainer->RestoreState(state).ok());
  EXPECT_EQ(resumed.trainer->step(), 2);
  ASSERT_TRUE(resumed.trainer->Step(nullptr).ok());
  ASSERT_TRUE(resumed.trainer->Step(nullptr).ok());
  EXPECT_TRUE(at::equal(resumed.network->flat_params(), a.network->flat_params()));

  // Another seed trains to other weights.
  TrainerOptions other = Options();
  other.seed = 43;
  Run c = Make(other);
  ASSERT_TRUE(c.trainer->Step(nullptr).ok());
  EXPECT_FALSE(at::equal(c.network->flat_params(), b.network->flat_params()));
}

TEST_F(LoraTrainerTest, RanksDrawTheSlotsOfTheSameGlobalBatch) {
  TrainerOptions two = Options();
  two.batch_per_rank = 2;
  TrainerOptions four = Options();
  four.batch_per_rank = 4;
  Run rank0 = Make(two, 0, 2), rank1 = Make(two, 1, 2), alone = Make(four, 0, 1);
  for (int64_t micro = 0; micro < 2; ++micro) {
    const TrainBatch r0 = rank0.trainer->DrawBatch(3, micro), r1 = rank1.trainer->DrawBatch(3, micro);
    const TrainBatch all = alone.trainer->DrawBatch(3, micro);
    EXPECT_TRUE(at::equal(at::cat({r0.latents, r1.latents}), all.latents));
    EXPECT_TRUE(at::equal(at::cat({r0.noise, r1.noise}), all.noise));
    EXPECT_TRUE(at::equal(at::cat({r0.timesteps, r1.timesteps}), all.timesteps));
    EXPECT_TRUE(at::equal(at::cat({r0.input_ids, r1.input_ids}), all.input_ids));
  }
  // Each epoch visits every example once.
  std::vector<int> seen(3, 0);
  for (int64_t s = 3; s < 6; ++s) ++seen[ExampleForSequence(7, s, 3)];
  EXPECT_EQ(seen, std::vector<int>({1, 1, 1}));
}

TEST_F(LoraTrainerTest, ANonFiniteLossStopsWithTheStepAndKeepsTheWeights) {
  std::vector<TrainExample> bad = examples_;
  for (TrainExample& e : bad) {
    e.latent = e.latent.clone();
    e.latent[0][0][0] = std::nanf("");
    e.latent_flip = e.latent.flip({2});
  }
  Run r = Make(Options(), 0, 1, bad);
  const at::Tensor before = r.network->flat_params().clone();
  auto step = r.trainer->Step(nullptr);
  ASSERT_FALSE(step.ok());
  EXPECT_NE(step.status().ToString().find("step 1"), std::string::npos) << step.status().ToString();
  EXPECT_TRUE(at::equal(before, r.network->flat_params()));
}

TEST(LearningRateScheduleTest, FollowsDiffusersSchedules) {
  TrainerOptions o;
  o.max_steps = 100;
  o.warmup_steps = 10;
  o.lr_scheduler = "constant";
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(o, 1e-4, 0), 1e-4);
  o.lr_scheduler = "constant_with_warmup";
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(o, 1e-4, 0), 0);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(o, 1e-4, 5), 0.5e-4);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(o, 1e-4, 50), 1e-4);
  o.lr_scheduler = "cosine";
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(o, 1e-4, 10), 1e-4);
  EXPECT_NEAR(ScheduledLearningRate(o, 1e-4, 55), 0.5e-4, 1e-12);
  EXPECT_NEAR(ScheduledLearningRate(o, 1e-4, 100), 0, 1e-12);
  EXPECT_TRUE(ScheduleDependsOnTotalSteps("cosine"));
  EXPECT_FALSE(ScheduleDependsOnTotalSteps("constant_with_warmup"));
}

}  // namespace
}  // namespace farm::sd
