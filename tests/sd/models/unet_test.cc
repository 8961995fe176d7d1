#include "farm/sd/unet.h"

#include <gtest/gtest.h>

#include "model_test_util.h"

namespace farm::sd {
namespace {

using testing::AllClose;
using testing::ConfigNumber;
using testing::IoTensor;

UNetOptions TinyOptions(const Json& config) {
  UNetOptions options;
  // diffusers' "attention_head_dim" is the number of heads for SD 1.x.
  options.num_heads = static_cast<int64_t>(ConfigNumber(config, "unet_diffusers_config", "attention_head_dim"));
  options.norm_groups = static_cast<int64_t>(ConfigNumber(config, "unet_diffusers_config", "norm_num_groups"));
  options.resnet_norm_eps = ConfigNumber(config, "unet_diffusers_config", "norm_eps");
  return options;
}

class UNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FARM_SD_REQUIRE_REFERENCE(dir);
    ref_ = testing::LoadTinyReference(dir);
    ASSERT_FALSE(ref_.weights.unet.empty());
    auto unet = UNet::Create(ref_.weights.unet, TinyOptions(ref_.config));
    ASSERT_TRUE(unet.ok()) << unet.status().ToString();
    unet_.emplace(std::move(*unet));
    sample_ = IoTensor(ref_, "unet_sample");
    context_ = IoTensor(ref_, "unet_encoder_hidden_states");
  }

  testing::TinyReference ref_;
  std::optional<UNet> unet_;
  at::Tensor sample_, context_;
};

TEST_F(UNetTest, StructureComesFromShapes) {
  const Json* channels = ref_.config.Find("unet_diffusers_config")->Find("block_out_channels");
  ASSERT_NE(channels, nullptr);
  std::vector<int64_t> expected;
  for (const Json& c : channels->items()) expected.push_back(static_cast<int64_t>(c.number()));
  EXPECT_EQ(unet_->block_out_channels(), expected);
  EXPECT_EQ(unet_->context_dim(), ConfigNumber(ref_.config, "unet_diffusers_config", "cross_attention_dim"));
  EXPECT_EQ(unet_->in_channels(), ConfigNumber(ref_.config, "unet_diffusers_config", "in_channels"));
  EXPECT_EQ(unet_->out_channels(), ConfigNumber(ref_.config, "unet_diffusers_config", "out_channels"));
  // conv_in + layers_per_block per level + a downsampler on every level but the last.
  const int64_t levels = static_cast<int64_t>(expected.size());
  const int64_t layers = static_cast<int64_t>(ConfigNumber(ref_.config, "unet_diffusers_config", "layers_per_block"));
  EXPECT_EQ(unet_->num_skips(), 1 + levels * layers + (levels - 1));
}

TEST_F(UNetTest, EpsAndIntermediatesMatchReferenceWithIntegerTimesteps) {
  DebugTaps taps;
  auto eps = unet_->Forward(sample_, IoTensor(ref_, "unet_timesteps"), context_, nullptr, &taps);
  ASSERT_TRUE(eps.ok()) << eps.status().ToString();
  int compared = 0;
  for (const auto& [name, expected] : ref_.io) {
    if (name.rfind("unet_dbg_", 0) != 0) continue;
    const std::string tap = name.substr(9);
    ASSERT_TRUE(taps.count(tap)) << "no debug tap " << tap;
    EXPECT_TRUE(AllClose(name, taps[tap], expected));
    ++compared;
  }
  EXPECT_GT(compared, 0);
  EXPECT_TRUE(AllClose("unet_eps", *eps, IoTensor(ref_, "unet_eps")));
}

TEST_F(UNetTest, EpsMatchesReferenceWithFractionalTimesteps) {
  auto eps = unet_->Forward(sample_, IoTensor(ref_, "unet_timesteps_float"), context_);
  ASSERT_TRUE(eps.ok()) << eps.status().ToString();
  EXPECT_TRUE(AllClose("unet_eps_float_t", *eps, IoTensor(ref_, "unet_eps_float_t")));
}

TEST_F(UNetTest, ControlResidualsAreAddedToSkipsAndMid) {
  ControlResiduals control;
  for (int64_t i = 0; i < unet_->num_skips(); ++i) {
    control.down.push_back(IoTensor(ref_, "controlnet_down_res_" + std::to_string(i)));
  }
  control.mid = IoTensor(ref_, "controlnet_mid_res");
  auto eps = unet_->Forward(sample_, IoTensor(ref_, "unet_timesteps"), context_, &control);
  ASSERT_TRUE(eps.ok()) << eps.status().ToString();
  EXPECT_TRUE(AllClose("controlnet_unet_eps", *eps, IoTensor(ref_, "controlnet_unet_eps")));

  control.down.pop_back();
  EXPECT_FALSE(unet_->Forward(sample_, IoTensor(ref_, "unet_timesteps"), context_, &control).ok());
}

TEST_F(UNetTest, InPlaceWeightUpdateIsSeenByNextForward) {
  const at::Tensor t = IoTensor(ref_, "unet_timesteps");
  auto before = unet_->Forward(sample_, t, context_);
  ASSERT_TRUE(before.ok());
  unet_->weights()["conv_out.bias"].add_(0.5);
  auto after = unet_->Forward(sample_, t, context_);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(AllClose("shifted by the bias update", *after, *before + 0.5, 1e-5, 0));
}

TEST_F(UNetTest, SingleTimestepIsBroadcastOverTheBatch) {
  const at::Tensor t = IoTensor(ref_, "unet_timesteps");
  auto batched = unet_->Forward(sample_, t[0].expand({sample_.size(0)}), context_);
  auto single = unet_->Forward(sample_, t[0], context_);
  ASSERT_TRUE(batched.ok() && single.ok());
  EXPECT_TRUE(AllClose("scalar timestep", *single, *batched, 0, 0));
}

TEST_F(UNetTest, RejectsBadInputs) {
  const at::Tensor t = IoTensor(ref_, "unet_timesteps");
  EXPECT_FALSE(unet_->Forward(sample_.slice(1, 0, 3), t, context_).ok());
  EXPECT_FALSE(unet_->Forward(sample_, at::zeros({3}), context_).ok());
  EXPECT_FALSE(unet_->Forward(sample_, t, context_.slice(2, 0, context_.size(2) - 1)).ok());
  EXPECT_FALSE(unet_->Forward(sample_, t, context_.slice(0, 0, 1)).ok());
}

TEST_F(UNetTest, NamesEveryMissingExtraAndMisshapedWeight) {
  TensorMap weights = ref_.weights.unet;
  const std::string removed = "up_blocks.1.attentions.2.transformer_blocks.0.norm3.bias";
  const std::string reshaped = "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight";
  ASSERT_EQ(weights.erase(removed), 1u);
  const at::Tensor original = weights.at(reshaped);
  weights[reshaped] = at::zeros({original.size(0), original.size(1) + 3});
  weights["down_blocks.0.resnets.0.conv_shortcut.weight"] = at::zeros({1});
  auto unet = UNet::Create(weights, TinyOptions(ref_.config));
  ASSERT_FALSE(unet.ok());
  const std::string& message = unet.status().message();
  EXPECT_NE(message.find(removed), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected: down_blocks.0.resnets.0.conv_shortcut.weight"), std::string::npos)
      << message;
  EXPECT_NE(message.find(reshaped + ": expected shape"), std::string::npos) << message;
  EXPECT_NE(message.find("found [" + std::to_string(original.size(0)) + ", " +
                         std::to_string(original.size(1) + 3) + "]"),
            std::string::npos)
      << message;

  UNetOptions indivisible = TinyOptions(ref_.config);
  indivisible.num_heads = unet_->block_out_channels()[0] + 1;  // cannot divide any width
  EXPECT_FALSE(UNet::Create(ref_.weights.unet, indivisible).ok());
}

}  // namespace
}  // namespace farm::sd
