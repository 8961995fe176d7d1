// Conv LoRA modules: kohya LoCon (a kxk down conv then a 1x1 up conv on ResNet convs,
// shortcuts and samplers) and LyCORIS Tucker LoCon merge as their convs applied in
// sequence, and unmerge bit for bit.
#include "lora_formats_fixture.h"

namespace farm::sd {
namespace {

using testing::ChangedKeys;
using testing::DeepCopy;

// kohya conv_dim (LoCon): a kxk lora_down conv then a 1x1 lora_up conv on the ResNet
// convs, the shortcut and the samplers; the merged conv must equal the base conv plus
// the two LoRA convs applied in sequence.
TEST_F(LoraFormatsTest, LoconModulesMergeAsTheirTwoConvsAndRestoreExactly) {
  struct Conv {
    std::string module;
    int64_t stride;
  };
  const std::vector<Conv> convs = {{"down_blocks.0.resnets.0.conv1", 1},
                                   {"down_blocks.1.resnets.0.conv2", 1},
                                   {"down_blocks.1.resnets.0.conv_shortcut", 1},
                                   {"down_blocks.0.downsamplers.0.conv", 2},
                                   {"up_blocks.0.upsamplers.0.conv", 1},
                                   {"mid_block.resnets.0.conv1", 1}};
  const int64_t rank = 4;
  const double alpha = 1.0, multiplier = 0.7;
  at::manual_seed(11);
  TensorMap tensors;
  for (const Conv& conv : convs) {
    const at::Tensor& weight = weights_.unet.at(conv.module + ".weight");
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, conv.module);
    tensors[kohya + ".lora_down.weight"] =
        0.3 * at::randn({rank, weight.size(1), weight.size(2), weight.size(3)});
    tensors[kohya + ".lora_up.weight"] = 0.3 * at::randn({weight.size(0), rank, 1, 1});
    tensors[kohya + ".alpha"] = at::scalar_tensor(alpha);
  }
  // A LoCon file also carries the ResNet block's linear time projection.
  const std::string time_emb = KohyaModuleName(kLoraUnetPrefix, "down_blocks.0.resnets.0.time_emb_proj");
  const at::Tensor& time_weight = weights_.unet.at("down_blocks.0.resnets.0.time_emb_proj.weight");
  tensors[time_emb + ".lora_down.weight"] = at::randn({rank, time_weight.size(1)});
  tensors[time_emb + ".lora_up.weight"] = at::randn({time_weight.size(0), rank});
  LoraFile locon = WriteAndRead("locon.safetensors", tensors, {{"ss_network_module", "networks.lora"},
                                                              {"ss_network_args", R"({"conv_dim": "4"})"}});
  ASSERT_TRUE(locon.problems.empty()) << FormatLoraIssue(locon.problems.front());
  ASSERT_EQ(locon.modules.size(), convs.size() + 1);

  const TensorMap base = DeepCopy(weights_.unet);
  SdWeights merged = MergedCopy(locon, multiplier);
  ASSERT_FALSE(merged.unet.empty());
  const double scale = multiplier * alpha / rank;
  for (const Conv& conv : convs) {
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, conv.module);
    const at::Tensor w = base.at(conv.module + ".weight").to(at::kDouble);
    const int64_t padding = w.size(2) / 2;
    const at::Tensor x = at::randn({2, w.size(1), 8, 8}, at::kDouble);
    const at::Tensor down = tensors.at(kohya + ".lora_down.weight").to(at::kDouble);
    const at::Tensor up = tensors.at(kohya + ".lora_up.weight").to(at::kDouble);
    const at::Tensor expected =
        at::conv2d(x, w, {}, conv.stride, padding) +
        scale * at::conv2d(at::conv2d(x, down, {}, conv.stride, padding), up);
    const at::Tensor got = at::conv2d(x, merged.unet.at(conv.module + ".weight").to(at::kDouble), {},
                                      conv.stride, padding);
    EXPECT_LE(testing::MaxAbsDiff(got, expected), 1e-5) << conv.module;
  }
  const at::Tensor t = at::randn({3, time_weight.size(1)}, at::kDouble);
  const at::Tensor expected =
      at::linear(t, base.at("down_blocks.0.resnets.0.time_emb_proj.weight").to(at::kDouble)) +
      multiplier * at::linear(at::linear(t, tensors.at(time_emb + ".lora_down.weight").to(at::kDouble)),
                              tensors.at(time_emb + ".lora_up.weight").to(at::kDouble));
  EXPECT_LE(testing::MaxAbsDiff(
                at::linear(t, merged.unet.at("down_blocks.0.resnets.0.time_emb_proj.weight").to(at::kDouble)),
                expected),
            1e-5);
  // Nothing but the targeted weights changed.
  std::vector<std::string> changed = ChangedKeys(base, merged.unet);
  EXPECT_EQ(changed.size(), convs.size() + 1);
}

// LyCORIS LoCon with a Tucker core (use_tucker / older use_conv_cp): a 1x1 down, a kxk
// lora_mid and a 1x1 up; the merged conv must equal the three convs in sequence.
TEST_F(LoraFormatsTest, TuckerLoconMergesAsItsThreeConvs) {
  struct Conv {
    std::string module;
    int64_t stride;
  };
  const std::vector<Conv> convs = {{"down_blocks.0.resnets.1.conv1", 1}, {"down_blocks.1.downsamplers.0.conv", 2}};
  const int64_t rank = 3;
  const double alpha = 1.5, multiplier = 0.9;
  at::manual_seed(12);
  TensorMap tensors;
  for (const Conv& conv : convs) {
    const at::Tensor& weight = weights_.unet.at(conv.module + ".weight");
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, conv.module);
    tensors[kohya + ".lora_down.weight"] = 0.3 * at::randn({rank, weight.size(1), 1, 1});
    tensors[kohya + ".lora_mid.weight"] = 0.3 * at::randn({rank, rank, weight.size(2), weight.size(3)});
    tensors[kohya + ".lora_up.weight"] = 0.3 * at::randn({weight.size(0), rank, 1, 1});
    tensors[kohya + ".alpha"] = at::scalar_tensor(alpha);
  }
  LoraFile locon = WriteAndRead("tucker_locon.safetensors", tensors);
  ASSERT_TRUE(locon.problems.empty()) << FormatLoraIssue(locon.problems.front());
  ASSERT_EQ(locon.modules.size(), convs.size());
  const TensorMap base = DeepCopy(weights_.unet);
  SdWeights merged = MergedCopy(locon, multiplier);
  ASSERT_FALSE(merged.unet.empty());
  for (const Conv& conv : convs) {
    const std::string kohya = KohyaModuleName(kLoraUnetPrefix, conv.module);
    const at::Tensor w = base.at(conv.module + ".weight").to(at::kDouble);
    const at::Tensor x = at::randn({2, w.size(1), 8, 8}, at::kDouble);
    const at::Tensor path =
        at::conv2d(at::conv2d(at::conv2d(x, tensors.at(kohya + ".lora_down.weight").to(at::kDouble)),
                              tensors.at(kohya + ".lora_mid.weight").to(at::kDouble), {}, conv.stride, 1),
                   tensors.at(kohya + ".lora_up.weight").to(at::kDouble));
    const at::Tensor expected = at::conv2d(x, w, {}, conv.stride, 1) + multiplier * alpha / rank * path;
    const at::Tensor got =
        at::conv2d(x, merged.unet.at(conv.module + ".weight").to(at::kDouble), {}, conv.stride, 1);
    EXPECT_LE(testing::MaxAbsDiff(got, expected), 1e-5) << conv.module;
  }
  EXPECT_EQ(ChangedKeys(base, merged.unet).size(), convs.size());

  // A lora_mid with a 3x3 down is not a Tucker LoCon.
  const std::string bad = KohyaModuleName(kLoraUnetPrefix, convs[0].module);
  tensors[bad + ".lora_down.weight"] = at::ones({rank, 16, 3, 3});
  auto refused = LoraFromTensors(tensors, "bad_tucker");
  ASSERT_TRUE(refused.ok());
  ASSERT_EQ(refused->problems.size(), 1u);
  EXPECT_NE(refused->problems[0].message.find("a Tucker LoCon needs a 1x1 down"), std::string::npos)
      << FormatLoraIssue(refused->problems[0]);
}


}  // namespace
}  // namespace farm::sd
