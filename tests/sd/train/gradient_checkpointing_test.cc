// Gradient checkpointing of the UNet's resnets and transformers and of the text encoder's
// layers (UNet/ClipTextModel::SetGradientCheckpointing), on the tiny reference model with a
// kohya LoRA attached: the loss and every LoRA gradient equal those without it, a clip skip
// still leaves the skipped layer without a gradient, the graph really is checkpointed, and
// inference does not change.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/function.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "farm/sd/lora_network.h"
#include "farm/sd/train_step.h"
#include "reference_paths.h"
#include "tiny_models.h"

namespace farm::sd {
namespace {

using Models = testing::TinyModels;
using testing::LoadTinyModels;

TrainBatch Batch(const ClipTextModel& text, int64_t seed) { return testing::RandomBatch(text, seed); }

void SetCheckpointing(const Models& m, bool on) {
  m.unet->SetGradientCheckpointing(on);
  m.text->SetGradientCheckpointing(on);
}

// A network whose lora_up is not zero, so every LoRA tensor gets a non-trivial gradient.
std::unique_ptr<LoraNetwork> TrainedLikeNetwork(const Models& m, bool train_text_encoder) {
  LoraNetworkOptions options;
  options.train_text_encoder = train_text_encoder;
  auto net = LoraNetwork::Create(*m.unet, *m.text, options);
  EXPECT_TRUE(net.ok()) << net.status().ToString();
  (*net)->InitKohya(3);
  {
    at::NoGradGuard no_grad;
    at::manual_seed(5);
    (*net)->flat_params().add_(at::randn_like((*net)->flat_params()) * 0.05);
  }
  (*net)->Attach(m.unet.get(), m.text.get());
  return std::move(*net);
}

struct Step {
  at::Tensor loss, eps, context, grads;
  std::vector<uint8_t> has_grad;
  std::multiset<std::string> graph;  // node names of the loss's autograd graph
};

// Every node of the graph behind `root`, by name.
std::multiset<std::string> GraphNodes(const at::Tensor& root) {
  std::multiset<std::string> names;
  std::set<torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> todo = {root.grad_fn().get()};
  while (!todo.empty()) {
    torch::autograd::Node* node = todo.back();
    todo.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    names.insert(node->name());
    for (const torch::autograd::Edge& edge : node->next_edges()) todo.push_back(edge.function.get());
  }
  return names;
}

size_t CountContaining(const std::multiset<std::string>& names, const std::string& part) {
  size_t n = 0;
  for (const std::string& name : names) n += name.find(part) != std::string::npos;
  return n;
}

// One micro-step from zeroed gradients; `micro_steps` > 1 accumulates the same batch again.
Step RunStep(const Models& m, LoraNetwork& net, int clip_skip, int micro_steps = 1) {
  const NoiseScheduleTensors schedule = MakeNoiseScheduleTensors(*Sd15TrainingSchedule());
  net.ZeroGrad();
  Step step;
  for (int i = 0; i < micro_steps; ++i) {
    auto loss = TrainingLoss(*m.unet, *m.text, schedule, Batch(*m.text, 2), {clip_skip, 0});
    EXPECT_TRUE(loss.ok()) << loss.status().ToString();
    if (!loss.ok()) return step;
    step = {loss->loss.detach(), loss->eps_pred, loss->encoder_hidden_states, {}, {}, GraphNodes(loss->loss)};
    loss->loss.backward();
  }
  step.grads = net.flat_grads().clone();
  step.has_grad = net.has_grad();
  return step;
}

struct Case {
  int clip_skip;
  bool train_text_encoder;
};

class GradientCheckpointingTest : public ::testing::TestWithParam<Case> {};

TEST_P(GradientCheckpointingTest, LossAndEveryLoraGradientAreBitIdenticalToThoseWithout) {
  FARM_SD_REQUIRE_REFERENCE(sd15);
  const Case c = GetParam();
  Models m = LoadTinyModels(sd15);
  std::unique_ptr<LoraNetwork> net = TrainedLikeNetwork(m, c.train_text_encoder);

  const Step plain = RunStep(m, *net, c.clip_skip);
  SetCheckpointing(m, true);
  const Step checkpointed = RunStep(m, *net, c.clip_skip);
  ASSERT_TRUE(plain.grads.defined() && checkpointed.grads.defined());

  // The graph is checkpointed: one node per resnet, transformer and (when it trains) text
  // encoder layer stands for the block's many, and the text layer a clip skip leaves out
  // is not run at all.
  size_t resnets = 0, transformers = 0;
  for (const auto& [name, tensor] : m.unet->weights()) {
    if (name.ends_with(".norm1.weight") && name.find(".resnets.") != std::string::npos) ++resnets;
    if (name.ends_with(".proj_in.weight")) ++transformers;
  }
  const size_t text_layers =
      c.train_text_encoder ? static_cast<size_t>(m.text->num_layers() - c.clip_skip + 1) : 0;
  const size_t blocks = CountContaining(checkpointed.graph, "CheckpointFunction");
  EXPECT_EQ(CountContaining(plain.graph, "CheckpointFunction"), 0u);
  // Resnets before the first transformer see no trainable input and record nothing.
  EXPECT_GE(blocks, transformers + text_layers + 1);
  EXPECT_LE(blocks, resnets + transformers + text_layers);
  EXPECT_LT(checkpointed.graph.size() * 4, plain.graph.size())
      << checkpointed.graph.size() << " nodes checkpointed, " << plain.graph.size() << " without";

  EXPECT_TRUE(at::equal(checkpointed.loss, plain.loss));
  EXPECT_TRUE(at::equal(checkpointed.eps, plain.eps));
  EXPECT_TRUE(at::equal(checkpointed.context, plain.context));
  EXPECT_EQ(checkpointed.has_grad, plain.has_grad);
  const std::string last_layer =
      "lora_te_text_model_encoder_layers_" + std::to_string(m.text->num_layers() - 1) + "_";
  const float* base = net->flat_grads().data_ptr<float>();
  for (size_t i = 0; i < net->params().size(); ++i) {
    const LoraParam& p = net->params()[i];
    EXPECT_EQ(p.value.grad().data_ptr<float>(), base + p.offset) << p.name;
    EXPECT_EQ(plain.has_grad[i] != 0, c.clip_skip == 1 || p.name.rfind(last_layer, 0) != 0) << p.name;
    const at::Tensor a = checkpointed.grads.narrow(0, p.offset, p.numel);
    const at::Tensor b = plain.grads.narrow(0, p.offset, p.numel);
    EXPECT_TRUE(at::equal(a, b)) << p.name << ": max difference " << (a - b).abs().max().item<double>()
                                 << " of " << b.abs().max().item<double>();
  }
  EXPECT_GT(plain.grads.abs().max().item<float>(), 0.0f);

  // A second micro-step accumulates into the same flat buffer, as without checkpointing.
  const Step twice = RunStep(m, *net, c.clip_skip, 2);
  EXPECT_TRUE(at::equal(twice.grads, plain.grads * 2));
}

INSTANTIATE_TEST_SUITE_P(Runs, GradientCheckpointingTest,
                         ::testing::Values(Case{1, true}, Case{2, true}, Case{1, false}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return "ClipSkip" + std::to_string(info.param.clip_skip) +
                                  (info.param.train_text_encoder ? "" : "UnetOnly");
                         });

// Checkpointing only acts while autograd records: inference (no adapters, or no grad mode)
// runs and returns exactly what it did before.
TEST(GradientCheckpointingInferenceTest, InferenceIsUnaffected) {
  FARM_SD_REQUIRE_REFERENCE(sd15);
  Models m = LoadTinyModels(sd15);
  const TrainBatch batch = Batch(*m.text, 4);
  at::Tensor context = *m.text->Forward(batch.input_ids, 1);
  at::Tensor eps = *m.unet->Forward(batch.latents, batch.timesteps, context);
  SetCheckpointing(m, true);
  at::Tensor context_on = *m.text->Forward(batch.input_ids, 1);
  at::Tensor eps_on = *m.unet->Forward(batch.latents, batch.timesteps, context_on);
  EXPECT_FALSE(eps_on.requires_grad());
  EXPECT_TRUE(at::equal(context_on, context));
  EXPECT_TRUE(at::equal(eps_on, eps));

  std::unique_ptr<LoraNetwork> net = TrainedLikeNetwork(m, true);
  at::Tensor eps_lora = *m.unet->Forward(batch.latents, batch.timesteps, context);
  EXPECT_TRUE(eps_lora.requires_grad());
  at::NoGradGuard no_grad;
  at::Tensor eps_lora_no_grad = *m.unet->Forward(batch.latents, batch.timesteps, context);
  EXPECT_FALSE(eps_lora_no_grad.requires_grad());
  EXPECT_TRUE(at::equal(eps_lora_no_grad, eps_lora.detach()));
}

}  // namespace
}  // namespace farm::sd
