#include "farm/sd/vae.h"

#include <gtest/gtest.h>

#include "model_test_util.h"

namespace farm::sd {
namespace {

using testing::AllClose;
using testing::ConfigNumber;
using testing::IoTensor;

VaeOptions TinyOptions(const Json& config) {
  VaeOptions options;
  options.norm_groups = static_cast<int64_t>(ConfigNumber(config, "vae_diffusers_config", "norm_num_groups"));
  return options;
}

class VaeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FARM_SD_REQUIRE_REFERENCE(dir);
    ref_ = testing::LoadTinyReference(dir);
    ASSERT_FALSE(ref_.weights.vae.empty());
    auto vae = Vae::Create(ref_.weights.vae, TinyOptions(ref_.config));
    ASSERT_TRUE(vae.ok()) << vae.status().ToString();
    vae_.emplace(std::move(*vae));
  }

  testing::TinyReference ref_;
  std::optional<Vae> vae_;
};

TEST_F(VaeTest, ScalingFactorAndSizesMatchConfig) {
  EXPECT_DOUBLE_EQ(kVaeScalingFactor, ConfigNumber(ref_.config, "vae_diffusers_config", "scaling_factor"));
  EXPECT_EQ(vae_->latent_channels(), ConfigNumber(ref_.config, "vae_diffusers_config", "latent_channels"));
  EXPECT_EQ(vae_->image_channels(), ConfigNumber(ref_.config, "vae_diffusers_config", "out_channels"));
  const at::Tensor image = IoTensor(ref_, "vae_encode_image");
  const at::Tensor latent = IoTensor(ref_, "vae_encode_mean");
  EXPECT_EQ(vae_->downscale_factor(), image.size(2) / latent.size(2));
}

TEST_F(VaeTest, EncodeMatchesReference) {
  auto posterior = vae_->Encode(IoTensor(ref_, "vae_encode_image"));
  ASSERT_TRUE(posterior.ok()) << posterior.status().ToString();
  EXPECT_TRUE(AllClose("vae_encode_moments", posterior->moments, IoTensor(ref_, "vae_encode_moments")));
  EXPECT_TRUE(AllClose("vae_encode_mean", posterior->mean, IoTensor(ref_, "vae_encode_mean")));
  EXPECT_TRUE(AllClose("vae_encode_logvar", posterior->logvar, IoTensor(ref_, "vae_encode_logvar")));
  const at::Tensor sample =
      posterior->mean + at::exp(0.5 * posterior->logvar) * IoTensor(ref_, "vae_encode_noise");
  EXPECT_TRUE(AllClose("vae_encode_sample_scaled", sample * kVaeScalingFactor,
                       IoTensor(ref_, "vae_encode_sample_scaled")));
}

TEST_F(VaeTest, DecodeAndIntermediatesMatchReference) {
  const at::Tensor input = IoTensor(ref_, "vae_decode_input");
  EXPECT_TRUE(AllClose("vae_decode_input", IoTensor(ref_, "vae_decode_latent") / kVaeScalingFactor, input,
                       1e-6, 1e-6));
  DebugTaps taps;
  auto image = vae_->Decode(input, &taps);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  int compared = 0;
  for (const auto& [name, expected] : ref_.io) {
    if (name.rfind("vae_dbg_", 0) != 0) continue;
    const std::string tap = name.substr(8);
    ASSERT_TRUE(taps.count(tap)) << "no debug tap " << tap;
    EXPECT_TRUE(AllClose(name, taps[tap], expected));
    ++compared;
  }
  EXPECT_GT(compared, 0);
  EXPECT_TRUE(AllClose("vae_decode_output", *image, IoTensor(ref_, "vae_decode_output")));
}

TEST_F(VaeTest, AcceptsMidAttentionStoredAsOneByOneConvs) {
  TensorMap weights = ref_.weights.vae;
  for (auto& [name, tensor] : weights) {
    if (name.find("mid_block.attentions.0.to_") != std::string::npos && tensor.dim() == 2) {
      tensor = tensor.reshape({tensor.size(0), tensor.size(1), 1, 1});
    }
  }
  auto vae = Vae::Create(weights, TinyOptions(ref_.config));
  ASSERT_TRUE(vae.ok()) << vae.status().ToString();
  auto image = vae->Decode(IoTensor(ref_, "vae_decode_input"));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_TRUE(AllClose("vae_decode_output (conv attention)", *image, IoTensor(ref_, "vae_decode_output")));
}

TEST_F(VaeTest, RejectsBadInputs) {
  EXPECT_FALSE(vae_->Encode(at::zeros({1, 3, 60, 64})).ok());
  EXPECT_FALSE(vae_->Encode(at::zeros({1, 4, 64, 64})).ok());
  EXPECT_FALSE(vae_->Decode(at::zeros({1, 3, 8, 8})).ok());
}

TEST_F(VaeTest, NamesEveryMissingExtraAndMisshapedWeight) {
  TensorMap weights = ref_.weights.vae;
  const std::string removed = "decoder.up_blocks.2.resnets.2.norm1.weight";
  const std::string reshaped = "encoder.mid_block.attentions.0.to_v.bias";
  ASSERT_EQ(weights.erase(removed), 1u);
  weights[reshaped] = at::zeros({5});
  weights["decoder.up_blocks.0.attentions.0.to_q.weight"] = at::zeros({1});
  auto vae = Vae::Create(weights, TinyOptions(ref_.config));
  ASSERT_FALSE(vae.ok());
  const std::string& message = vae.status().message();
  EXPECT_NE(message.find("missing: " + removed), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected: decoder.up_blocks.0.attentions.0.to_q.weight"), std::string::npos)
      << message;
  EXPECT_NE(message.find(reshaped + ": expected shape ["), std::string::npos) << message;
  EXPECT_NE(message.find("found [5]"), std::string::npos) << message;
}

}  // namespace
}  // namespace farm::sd
