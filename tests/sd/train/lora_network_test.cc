// The trainable LoRA on the tiny reference model: kohya's targets and order, adapters that
// change nothing before training, gradients landing in the one flat buffer, no gradient for
// layers a clip skip leaves out, AdamW state restore.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <set>

#include "farm/sd/checkpoint.h"
#include "farm/sd/json.h"
#include "farm/sd/kohya_lora_writer.h"
#include "farm/sd/lora.h"
#include "farm/sd/lora_network.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/train_step.h"
#include "json_file.h"
#include "reference_paths.h"
#include "tiny_models.h"

namespace farm::sd {
namespace {

using Models = testing::TinyModels;
using testing::LoadTinyModels;

TrainBatch Batch(const ClipTextModel& text, int64_t seed) { return testing::RandomBatch(text, seed); }

TEST(LoraNetworkTest, TargetsAndOrderAreKohyas) {
  FARM_SD_REQUIRE_REFERENCE(sd15);
  FARM_SD_REQUIRE_TRAIN_REFERENCE(train);
  Models m = LoadTinyModels(sd15);
  Json config = testing::ReadJsonFile(train + "/train_config.json");
  LoraNetworkOptions options;
  options.rank = *config.Find("lora")->Find("rank")->AsInt64();
  auto net = LoraNetwork::Create(*m.unet, *m.text, options);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  std::vector<std::string> expected;
  for (const Json& p : config.Find("lora")->Find("params")->items()) expected.push_back(p.Find("name")->text());
  std::vector<std::string> ours;
  for (const LoraParam& p : (*net)->params()) ours.push_back(p.name);
  EXPECT_EQ(ours, expected);
  // Offsets tile the flat buffer in order.
  int64_t next = 0;
  for (const LoraParam& p : (*net)->params()) {
    EXPECT_EQ(p.offset, next) << p.name;
    next += p.numel;
  }
  EXPECT_EQ(next, (*net)->flat_params().numel());

  options.train_text_encoder = false;
  auto unet_only = LoraNetwork::Create(*m.unet, *m.text, options);
  ASSERT_TRUE(unet_only.ok());
  for (const LoraTargetModule& t : (*unet_only)->modules()) EXPECT_EQ(t.group, LoraGroup::kUnet) << t.kohya_name;
  EXPECT_EQ((*unet_only)->group_numel(LoraGroup::kTextEncoder), 0);
}

// kohya starts with lora_up = 0: the training forward then equals inference, bit for bit.
TEST(LoraNetworkTest, FreshLoraForwardEqualsInference) {
  FARM_SD_REQUIRE_REFERENCE(sd15);
  Models m = LoadTinyModels(sd15);
  const TrainBatch batch = Batch(*m.text, 1);
  const NoiseScheduleTensors schedule = MakeNoiseScheduleTensors(*Sd15TrainingSchedule());
  auto base = TrainingLoss(*m.unet, *m.text, schedule, batch, {});
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  EXPECT_FALSE(base->loss.requires_grad());

  auto net = LoraNetwork::Create(*m.unet, *m.text, {});
  ASSERT_TRUE(net.ok());
  (*net)->InitKohya(7);
  (*net)->Attach(m.unet.get(), m.text.get());
  {
    // Without autograd the adapters add exactly zero: bit-identical to inference.
    at::NoGradGuard no_grad;
    auto plain = TrainingLoss(*m.unet, *m.text, schedule, batch, {});
    ASSERT_TRUE(plain.ok()) << plain.status().ToString();
    EXPECT_TRUE(at::equal(plain->eps_pred, base->eps_pred));
    EXPECT_TRUE(at::equal(plain->encoder_hidden_states, base->encoder_hidden_states));
  }
  // Recording autograd takes the same kernels: still bit-identical.
  auto trained = TrainingLoss(*m.unet, *m.text, schedule, batch, {});
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  EXPECT_TRUE(trained->loss.requires_grad());
  EXPECT_TRUE(at::equal(trained->eps_pred, base->eps_pred))
      << "max diff " << (trained->eps_pred - base->eps_pred).abs().max().item<float>();
  EXPECT_TRUE(at::equal(trained->encoder_hidden_states, base->encoder_hidden_states));
  // With lora_up = 0 only lora_up receives a non-zero gradient (as in kohya's first step).
  trained->loss.backward();
  const auto& params = (*net)->params();
  EXPECT_EQ(params[0].value.grad().abs().max().item<float>(), 0.0f);
  EXPECT_GT(params[1].value.grad().abs().max().item<float>(), 0.0f);
}

TEST(LoraNetworkTest, GradientsAccumulateInTheFlatBufferAndClipSkipLeavesTheLastLayerOut) {
  FARM_SD_REQUIRE_REFERENCE(sd15);
  Models m = LoadTinyModels(sd15);
  auto net = LoraNetwork::Create(*m.unet, *m.text, {});
  ASSERT_TRUE(net.ok());
  (*net)->InitKohya(3);
  (*net)->flat_params().narrow(0, 0, (*net)->flat_params().numel()).add_(0.01);  // lora_up != 0
  (*net)->Attach(m.unet.get(), m.text.get());
  const NoiseScheduleTensors schedule = MakeNoiseScheduleTensors(*Sd15TrainingSchedule());

  (*net)->ZeroGrad();
  auto loss = TrainingLoss(*m.unet, *m.text, schedule, Batch(*m.text, 2), {2, 0});
  ASSERT_TRUE(loss.ok()) << loss.status().ToString();
  loss->loss.backward();
  const float* base = (*net)->flat_grads().data_ptr<float>();
  const std::string last_layer = "lora_te_text_model_encoder_layers_" + std::to_string(m.text->num_layers() - 1) + "_";
  for (size_t i = 0; i < (*net)->params().size(); ++i) {
    const LoraParam& p = (*net)->params()[i];
    EXPECT_EQ(p.value.grad().data_ptr<float>(), base + p.offset) << p.name;
    const bool in_last_layer = p.name.rfind(last_layer, 0) == 0;
    EXPECT_EQ((*net)->has_grad()[i] != 0, !in_last_layer) << p.name;
  }
  // A second micro-step accumulates: the flat gradient doubles for the same batch.
  const at::Tensor once = (*net)->flat_grads().clone();
  auto again = TrainingLoss(*m.unet, *m.text, schedule, Batch(*m.text, 2), {2, 0});
  again->loss.backward();
  EXPECT_TRUE(at::allclose((*net)->flat_grads(), once * 2, 1e-6, 1e-9));

  // Clipping and AdamW leave tensors without a gradient exactly as they were.
  const at::Tensor before = (*net)->flat_params().clone();
  ClipGradNorm(**net, 1e-3);
  AdamW adam(**net, {});
  adam.Step(**net, 5e-5, 1e-4);
  for (size_t i = 0; i < (*net)->params().size(); ++i) {
    const LoraParam& p = (*net)->params()[i];
    const bool same = at::equal(p.value.detach().flatten(), before.narrow(0, p.offset, p.numel));
    EXPECT_EQ(same, (*net)->has_grad()[i] == 0) << p.name;
    EXPECT_EQ(adam.steps()[i], (*net)->has_grad()[i] ? 1 : 0) << p.name;
  }
}

TEST(LoraNetworkTest, KohyaTensorsRoundTripAndMismatchesAreErrors) {
  FARM_SD_REQUIRE_REFERENCE(sd15);
  Models m = LoadTinyModels(sd15);
  LoraNetworkOptions options;
  options.rank = 2;
  options.alpha = 1.0;
  auto a = LoraNetwork::Create(*m.unet, *m.text, options);
  auto b = LoraNetwork::Create(*m.unet, *m.text, options);
  ASSERT_TRUE(a.ok() && b.ok());
  (*a)->InitKohya(11);
  TensorMap tensors = (*a)->ToKohyaTensors();
  EXPECT_EQ(tensors.size(), (*a)->modules().size() * 3);
  ASSERT_TRUE((*b)->Load(tensors, "a").ok());
  EXPECT_TRUE(at::equal((*a)->flat_params(), (*b)->flat_params()));

  TensorMap wrong_alpha = tensors;
  wrong_alpha.begin()->second = at::scalar_tensor(4.0);
  for (auto& [name, t] : wrong_alpha) {
    if (name.ends_with(".alpha")) t = at::scalar_tensor(4.0);
  }
  EXPECT_FALSE((*b)->Load(wrong_alpha, "wrong").ok());
  TensorMap extra = tensors;
  extra["lora_unet_nothing.lora_down.weight"] = at::zeros({2, 2});
  auto status = (*b)->Load(extra, "extra");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.ToString().find("lora_unet_nothing"), std::string::npos) << status.ToString();
}

// A trained LoRA written as a kohya file and merged by the inference engine's LoRA code
// gives the training forward's output (adapters unmerged) to float32 rounding.
TEST(LoraNetworkTest, WrittenFileMergedForInferenceEqualsTheTrainingForward) {
  FARM_SD_REQUIRE_REFERENCE(sd15);
  Models m = LoadTinyModels(sd15);
  auto net = LoraNetwork::Create(*m.unet, *m.text, {});
  ASSERT_TRUE(net.ok());
  (*net)->InitKohya(21);
  {
    at::NoGradGuard no_grad;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(22);
    (*net)->flat_params().normal_(0, 0.1, gen);  // a LoRA that changes the outputs
  }
  (*net)->Attach(m.unet.get(), m.text.get());
  const TrainBatch batch = Batch(*m.text, 3);
  const NoiseScheduleTensors schedule = MakeNoiseScheduleTensors(*Sd15TrainingSchedule());
  at::NoGradGuard no_grad;
  auto trained = TrainingLoss(*m.unet, *m.text, schedule, batch, {});
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();

  const std::string path = testing::ScratchPath("lora_file", "trained.safetensors");
  auto hashes = WriteKohyaLora(path, (*net)->ToKohyaTensors(), {{"ss_network_dim", "4"}});
  ASSERT_TRUE(hashes.ok()) << hashes.status().ToString();
  auto file = ReadLoraFile(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_TRUE(file->problems.empty());
  m.unet->SetAdapters(nullptr);
  m.text->SetAdapters(nullptr);
  auto base = TrainingLoss(*m.unet, *m.text, schedule, batch, {});
  SdWeights weights;
  weights.unet = m.unet->weights();
  weights.text_encoder = m.text->weights();
  auto merged = MergeLoras(weights, {{&*file, 1.0}});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  auto rendered = TrainingLoss(*m.unet, *m.text, schedule, batch, {});
  ASSERT_TRUE(rendered.ok());
  const double change = (trained->eps_pred - base->eps_pred).abs().max().item<double>();
  const double diff = (rendered->eps_pred - trained->eps_pred).abs().max().item<double>();
  EXPECT_GT(change, 1e-3) << "the LoRA should change the output";
  EXPECT_LT(diff, 1e-5) << "merged " << diff << " vs LoRA effect " << change;
  EXPECT_LT((rendered->encoder_hidden_states - trained->encoder_hidden_states).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace farm::sd
