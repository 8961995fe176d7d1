#include "farm/sd/lora_merge.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "farm/sd/checkpoint.h"
#include "farm/sd/lora.h"
#include "farm/testing/skip.h"
#include "lora_test_util.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

using testing::ChangedKeys;
using testing::DeepCopy;
using testing::ExpectedDeltaDouble;
using testing::MaxAbsDiff;

// The tiny checkpoint and LoRA of the reference set, and the merge multiplier.
class TinyLoraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::FindSd15ReferenceDir();
    if (!dir) GTEST_SKIP() << "sd15 reference data not found (set FARM_SD_REFERENCE)";
    dir_ = *dir;
    testing::LoadTinyModelAndLora(dir_, &weights_, &lora_);
    if (HasFatalFailure()) return;
    multiplier_ = testing::ScalarFromFile(dir_ + "/tiny_io.safetensors", "lora_multiplier");
  }

  TensorMap& Component(const std::string& name) {
    return name == "unet" ? weights_.unet : weights_.text_encoder;
  }

  // A LoRA for one weight of the model, sized from that weight.
  static TensorMap ModuleFor(const std::string& kohya, const at::Tensor& weight, int64_t rank) {
    std::vector<int64_t> down_shape = {rank, weight.size(1)};
    std::vector<int64_t> up_shape = {weight.size(0), rank};
    if (weight.dim() == 4) {
      down_shape.insert(down_shape.end(), {weight.size(2), weight.size(3)});
      up_shape.insert(up_shape.end(), {1, 1});
    }
    return {{kohya + ".lora_down.weight", at::randn(down_shape)},
            {kohya + ".lora_up.weight", at::randn(up_shape)}};
  }

  std::string dir_;
  SdWeights weights_;
  LoraFile lora_;
  double multiplier_ = 0;
};

TEST_F(TinyLoraTest, EveryModuleFindsItsDiffusersWeight) {
  Json config = testing::ReadJsonFile(dir_ + "/tiny_config.json");
  const Json& modules = *config.Find("lora")->Find("modules");
  ASSERT_EQ(modules.items().size(), lora_.modules.size());
  LoraKeyMap map = BuildSdLoraKeyMap(weights_);
  EXPECT_TRUE(map.ambiguous().empty());
  for (const Json& module : modules.items()) {
    const std::string kohya = module.Find("kohya")->text();
    const LoraTarget* target = map.Find(kohya);
    ASSERT_NE(target, nullptr) << kohya;
    EXPECT_EQ(target->component, module.Find("component")->text()) << kohya;
    EXPECT_EQ(target->module, module.Find("diffusers_module")->text()) << kohya;
    EXPECT_EQ(Component(target->component).at(target->weight_key).sizes().vec(),
              testing::JsonShape(*module.Find("weight_shape")))
        << kohya;
  }
}

TEST_F(TinyLoraTest, MergeMatchesDoublePrecisionAndUnmergeIsBitIdentical) {
  const SdWeights original{DeepCopy(weights_.unet), DeepCopy(weights_.vae),
                           DeepCopy(weights_.text_encoder), {}};
  // Shallow handles: a model holding the map sees the same storage.
  const at::Tensor held = weights_.unet.at("down_blocks.0.attentions.0.proj_in.weight");
  {
    auto merged = MergeLoras(weights_, {{&lora_, multiplier_}});
    ASSERT_TRUE(merged.ok()) << merged.status().ToString();
    EXPECT_EQ(merged->report().applied.size(), lora_.modules.size());
    EXPECT_TRUE(merged->report().skipped.empty());
    EXPECT_EQ(merged->saved_weights(), lora_.modules.size());

    LoraKeyMap map = BuildSdLoraKeyMap(weights_);
    std::vector<std::string> expected_changed_unet, expected_changed_te;
    for (const LoraModule& module : lora_.modules) {
      const LoraTarget* target = map.Find(module.name);
      ASSERT_NE(target, nullptr);
      const TensorMap& before = target->component == "unet" ? original.unet : original.text_encoder;
      (target->component == "unet" ? expected_changed_unet : expected_changed_te)
          .push_back(target->weight_key);
      at::Tensor expected = before.at(target->weight_key).to(at::kDouble) +
                            ExpectedDeltaDouble(module.up, module.down, module.alpha, multiplier_);
      EXPECT_LE(MaxAbsDiff(Component(target->component).at(target->weight_key), expected), 1e-6)
          << module.name;
    }
    std::sort(expected_changed_unet.begin(), expected_changed_unet.end());
    std::sort(expected_changed_te.begin(), expected_changed_te.end());
    EXPECT_EQ(ChangedKeys(original.unet, weights_.unet), expected_changed_unet);
    EXPECT_EQ(ChangedKeys(original.text_encoder, weights_.text_encoder), expected_changed_te);
    EXPECT_TRUE(ChangedKeys(original.vae, weights_.vae).empty());
    EXPECT_FALSE(at::equal(held, original.unet.at("down_blocks.0.attentions.0.proj_in.weight")));

    ASSERT_TRUE(merged->Unmerge().ok());
    EXPECT_EQ(merged->saved_weights(), 0u);
  }
  EXPECT_TRUE(ChangedKeys(original.unet, weights_.unet).empty());
  EXPECT_TRUE(ChangedKeys(original.text_encoder, weights_.text_encoder).empty());
  EXPECT_TRUE(at::equal(held, original.unet.at("down_blocks.0.attentions.0.proj_in.weight")));
}

TEST_F(TinyLoraTest, HandleRestoresOnScopeExitAndKeepMergedKeeps) {
  const TensorMap unet = DeepCopy(weights_.unet);
  {
    auto merged = MergeLoras(weights_, {{&lora_, multiplier_}});
    ASSERT_TRUE(merged.ok()) << merged.status().ToString();
    MergedLoras moved = std::move(merged).value();
    EXPECT_FALSE(ChangedKeys(unet, weights_.unet).empty());
  }
  EXPECT_TRUE(ChangedKeys(unet, weights_.unet).empty());

  auto merged = MergeLoras(weights_, {{&lora_, multiplier_}});
  ASSERT_TRUE(merged.ok());
  merged->KeepMerged();
  EXPECT_EQ(merged->saved_weights(), 0u);
  ASSERT_TRUE(merged->Unmerge().ok());
  EXPECT_FALSE(ChangedKeys(unet, weights_.unet).empty());
}

TEST_F(TinyLoraTest, TwoLorasEachWithItsMultiplier) {
  // A second LoRA touching some of the same weights (rank 3, no alpha: scale 1) and
  // one weight the first does not (an FF projection).
  at::manual_seed(7);
  TensorMap second;
  LoraKeyMap map = BuildSdLoraKeyMap(weights_);
  const std::vector<std::string> modules = {
      lora_.modules.front().name, lora_.modules.back().name,
      "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_2"};
  for (const std::string& kohya : modules) {
    const LoraTarget* target = map.Find(kohya);
    ASSERT_NE(target, nullptr) << kohya;
    second.merge(ModuleFor(kohya, Component(target->component).at(target->weight_key), 3));
  }
  auto second_lora = LoraFromTensors(second, "second");
  ASSERT_TRUE(second_lora.ok());
  ASSERT_EQ(second_lora->modules.size(), 3u);

  const TensorMap unet = DeepCopy(weights_.unet);
  const TensorMap text = DeepCopy(weights_.text_encoder);
  const double second_multiplier = -0.5;
  auto merged = MergeLoras(weights_, {{&lora_, multiplier_}, {&*second_lora, second_multiplier}});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(merged->saved_weights(), lora_.modules.size() + 1);

  std::map<std::string, at::Tensor> expected;  // "component/key" -> double
  for (const auto& [lora, multiplier] :
       {std::pair{&lora_, multiplier_}, std::pair{&*second_lora, second_multiplier}}) {
    for (const LoraModule& module : lora->modules) {
      const LoraTarget* target = map.Find(module.name);
      const std::string where = target->component + "/" + target->weight_key;
      if (!expected.count(where)) {
        expected[where] =
            (target->component == "unet" ? unet : text).at(target->weight_key).to(at::kDouble);
      }
      expected[where] = expected[where] +
                        ExpectedDeltaDouble(module.up, module.down, module.alpha, multiplier);
    }
  }
  for (const auto& [where, value] : expected) {
    const std::string component = where.substr(0, where.find('/'));
    const std::string key = where.substr(where.find('/') + 1);
    EXPECT_LE(MaxAbsDiff(Component(component).at(key), value), 1e-6) << where;
  }
  ASSERT_TRUE(merged->Unmerge().ok());
  EXPECT_TRUE(ChangedKeys(unet, weights_.unet).empty());
  EXPECT_TRUE(ChangedKeys(text, weights_.text_encoder).empty());
}

TEST_F(TinyLoraTest, UnknownModuleAndShapeMismatchAreNamed) {
  TensorMap tensors;
  for (const LoraModule& module : lora_.modules) {
    tensors[module.name + ".lora_down.weight"] = module.down;
    tensors[module.name + ".lora_up.weight"] = module.up;
  }
  const std::string unknown = "lora_unet_down_blocks_0_attentions_0_proj_inn";
  const std::string mismatched = "lora_te_text_model_encoder_layers_0_self_attn_q_proj";
  const int64_t hidden = weights_.text_encoder.at("text_model.encoder.layers.0.self_attn.q_proj.weight").size(1);
  tensors[unknown + ".lora_down.weight"] = at::ones({4, 16, 1, 1});
  tensors[unknown + ".lora_up.weight"] = at::ones({16, 4, 1, 1});
  tensors[mismatched + ".lora_down.weight"] = at::ones({4, hidden + 1});
  auto lora = LoraFromTensors(tensors, "broken.safetensors");
  ASSERT_TRUE(lora.ok());

  const TensorMap unet = DeepCopy(weights_.unet);
  const TensorMap text = DeepCopy(weights_.text_encoder);
  auto refused = MergeLoras(weights_, {{&*lora, 1.0}});
  ASSERT_FALSE(refused.ok());
  const std::string& message = refused.status().message();
  EXPECT_NE(message.find("broken.safetensors: " + unknown + ": unknown module"), std::string::npos)
      << message;
  EXPECT_NE(message.find(mismatched + ": shape mismatch: weight text_encoder/"
                         "text_model.encoder.layers.0.self_attn.q_proj.weight"),
            std::string::npos)
      << message;
  EXPECT_TRUE(ChangedKeys(unet, weights_.unet).empty());
  EXPECT_TRUE(ChangedKeys(text, weights_.text_encoder).empty());

  auto partial = MergeLoras(weights_, {{&*lora, 1.0}}, {.strict = false});
  ASSERT_TRUE(partial.ok()) << partial.status().ToString();
  ASSERT_EQ(partial->report().skipped.size(), 2u);
  EXPECT_EQ(partial->report().skipped[0].name, mismatched);
  EXPECT_EQ(partial->report().skipped[1].name, unknown);
  EXPECT_EQ(partial->report().applied.size(), lora_.modules.size() - 1);
  ASSERT_TRUE(partial->Unmerge().ok());
  EXPECT_TRUE(ChangedKeys(unet, weights_.unet).empty());
  EXPECT_TRUE(ChangedKeys(text, weights_.text_encoder).empty());
}

TEST_F(TinyLoraTest, IncompleteModuleFailsAStrictMerge) {
  const std::string name = lora_.modules.front().name;
  auto lora = LoraFromTensors({{name + ".lora_down.weight", lora_.modules.front().down}}, "half_module");
  ASSERT_TRUE(lora.ok());
  auto refused = MergeLoras(weights_, {{&*lora, 1.0}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(name + ": has lora_down.weight but no lora_up.weight"),
            std::string::npos)
      << refused.status().ToString();
}

// kohya conv_dim LoRAs target 3x3 convs: down [r,in,3,3], up [out,r,1,1].
TEST_F(TinyLoraTest, Conv3x3ModuleMergesAsTheComposedConv) {
  const std::string key = "down_blocks.0.resnets.0.conv1.weight";
  const at::Tensor& weight = weights_.unet.at(key);
  ASSERT_EQ(weight.dim(), 4);
  ASSERT_EQ(weight.size(2), 3);
  const std::string kohya = KohyaModuleName(kLoraUnetPrefix, "down_blocks.0.resnets.0.conv1");
  at::manual_seed(3);
  TensorMap tensors = ModuleFor(kohya, weight, 2);
  tensors[kohya + ".alpha"] = at::scalar_tensor(1.0);
  auto lora = LoraFromTensors(tensors, "conv3x3");
  ASSERT_TRUE(lora.ok());
  ASSERT_EQ(lora->modules.size(), 1u);
  const at::Tensor before = weight.to(at::kDouble);
  const double multiplier = 0.7;

  auto merged = MergeLoras(weights_, {{&*lora, multiplier}});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  const at::Tensor& down = tensors.at(kohya + ".lora_down.weight");
  const at::Tensor& up = tensors.at(kohya + ".lora_up.weight");
  EXPECT_LE(MaxAbsDiff(weights_.unet.at(key), before + ExpectedDeltaDouble(up, down, 1.0, multiplier)),
            1e-6);
  // The merged conv is the base conv plus the LoRA's own two convs (3x3 then 1x1).
  const at::Tensor x = at::randn({1, weight.size(1), 6, 6}, at::kDouble);
  const at::Tensor lora_path =
      at::conv2d(at::conv2d(x, down.to(at::kDouble), {}, 1, 1), up.to(at::kDouble));
  const at::Tensor expected = at::conv2d(x, before, {}, 1, 1) + multiplier * 0.5 * lora_path;
  EXPECT_LE(MaxAbsDiff(at::conv2d(x, weights_.unet.at(key).to(at::kDouble), {}, 1, 1), expected), 1e-4);
  ASSERT_TRUE(merged->Unmerge().ok());
  EXPECT_TRUE(at::equal(weights_.unet.at(key).to(at::kDouble), before));
}

TEST_F(TinyLoraTest, HalfPrecisionWeightsMergeInFloatAndRestoreExactly) {
  auto half = LoadCheckpoint(dir_ + "/tiny_ldm.safetensors", at::kHalf);
  ASSERT_TRUE(half.ok()) << half.status().ToString();
  SdWeights& weights = *half;
  const TensorMap unet = DeepCopy(weights.unet);
  auto merged = MergeLoras(weights, {{&lora_, multiplier_}});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  LoraKeyMap map = BuildSdLoraKeyMap(weights);
  for (const LoraModule& module : lora_.modules) {
    const LoraTarget* target = map.Find(module.name);
    if (target->component != "unet") continue;
    const at::Tensor& now = weights.unet.at(target->weight_key);
    ASSERT_EQ(now.scalar_type(), at::kHalf);
    at::Tensor expected = unet.at(target->weight_key).to(at::kDouble) +
                          ExpectedDeltaDouble(module.up, module.down, module.alpha, multiplier_);
    // One rounding to fp16: within half an fp16 ulp of the exact value (plus float32 noise).
    const at::Tensor ulp = at::exp2(at::floor(at::log2(expected.abs().clamp_min(6.1e-5))) - 10);
    EXPECT_TRUE(((now.to(at::kDouble) - expected).abs() <= 0.5 * ulp + 1e-6).all().item<bool>())
        << module.name;
  }
  ASSERT_TRUE(merged->Unmerge().ok());
  EXPECT_TRUE(ChangedKeys(unet, weights.unet).empty());
}

// The usual render setup: an fp16 model on a GPU. Originals are kept on the host.
TEST_F(TinyLoraTest, GpuHalfWeightsMergeLikeCpuAndRestoreExactly) {
  FARM_SKIP_WITHOUT_GPU(at::hasCUDA());
  auto half = LoadCheckpoint(dir_ + "/tiny_ldm.safetensors", at::kHalf);
  ASSERT_TRUE(half.ok()) << half.status().ToString();
  SdWeights cpu = std::move(half).value();
  SdWeights gpu;
  for (const auto& [key, tensor] : cpu.unet) gpu.unet[key] = tensor.to(at::kCUDA);
  for (const auto& [key, tensor] : cpu.text_encoder) gpu.text_encoder[key] = tensor.to(at::kCUDA);
  const TensorMap unet = DeepCopy(gpu.unet);
  auto on_cpu = MergeLoras(cpu, {{&lora_, multiplier_}});
  auto on_gpu = MergeLoras(gpu, {{&lora_, multiplier_}});
  ASSERT_TRUE(on_cpu.ok() && on_gpu.ok());
  for (const auto& [key, tensor] : gpu.unet) {
    ASSERT_TRUE(tensor.is_cuda());
    EXPECT_LE(MaxAbsDiff(tensor.cpu(), cpu.unet.at(key)), 1e-3) << key;  // fp16 rounding ties
  }
  EXPECT_FALSE(ChangedKeys(unet, gpu.unet).empty());
  ASSERT_TRUE(on_gpu->Unmerge().ok());
  EXPECT_TRUE(ChangedKeys(unet, gpu.unet).empty());
}

}  // namespace
}  // namespace farm::sd
