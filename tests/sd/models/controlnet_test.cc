// The ControlNet against the reference (diffusers ControlNetModel on the tiny set): every
// residual, and the UNet output they steer; both file layouts give the same model.
#include "farm/sd/controlnet.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "farm/sd/controlnet_checkpoint.h"
#include "model_test_util.h"

namespace farm::sd {
namespace {
namespace fs = std::filesystem;

using testing::AllClose;
using testing::ConfigNumber;
using testing::IoTensor;

// The ControlNet's own config when the set has one, else the UNet's.
UNetOptions TinyOptions(const Json& config) {
  const char* section = config.Find("controlnet_diffusers_config") ? "controlnet_diffusers_config"
                                                                   : "unet_diffusers_config";
  UNetOptions options;
  options.num_heads = static_cast<int64_t>(ConfigNumber(config, section, "attention_head_dim"));
  options.norm_groups = static_cast<int64_t>(ConfigNumber(config, section, "norm_num_groups"));
  options.resnet_norm_eps = ConfigNumber(config, section, "norm_eps");
  return options;
}

std::vector<int64_t> ConfigList(const Json& config, const char* section, const char* key) {
  std::vector<int64_t> out;
  const Json* part = config.Find(section);
  const Json* list = part ? part->Find(key) : nullptr;
  EXPECT_TRUE(list && list->is_array()) << section << "." << key;
  if (list && list->is_array()) {
    for (const Json& v : list->items()) out.push_back(static_cast<int64_t>(v.number()));
  }
  return out;
}

std::string Scratch(const std::string& name) { return testing::ScratchPath("controlnet", name); }

class ControlNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FARM_SD_REQUIRE_REFERENCE(dir);
    dir_ = dir;
    ref_ = testing::LoadTinyReference(dir);
    options_ = TinyOptions(ref_.config);
    auto net = ControlNet::Load(dir + "/tiny_controlnet.safetensors", options_);
    ASSERT_TRUE(net.ok()) << net.status().ToString();
    net_.emplace(std::move(*net));
    sample_ = IoTensor(ref_, "unet_sample");
    timesteps_ = IoTensor(ref_, "unet_timesteps");
    context_ = IoTensor(ref_, "unet_encoder_hidden_states");
    hint_ = IoTensor(ref_, "controlnet_cond_image");
    scale_ = IoTensor(ref_, "controlnet_conditioning_scale").item<double>();
  }

  StatusOr<ControlResiduals> Run(const ControlNet& net) const {
    return net.Forward(sample_, timesteps_, context_, hint_, scale_);
  }

  std::string dir_;
  testing::TinyReference ref_;
  UNetOptions options_;
  std::optional<ControlNet> net_;
  at::Tensor sample_, timesteps_, context_, hint_;
  double scale_ = 1.0;
};

TEST_F(ControlNetTest, StructureComesFromShapes) {
  const char* section = "controlnet_diffusers_config";
  if (!ref_.config.Find(section)) section = "unet_diffusers_config";
  EXPECT_EQ(net_->block_out_channels(), ConfigList(ref_.config, section, "block_out_channels"));
  const std::vector<int64_t> embedding =
      ConfigList(ref_.config, "controlnet_diffusers_config", "conditioning_embedding_out_channels");
  EXPECT_EQ(net_->conditioning_channels(), embedding);
  EXPECT_EQ(net_->hint_downscale(), int64_t{1} << (embedding.size() - 1));
  EXPECT_EQ(net_->hint_channels(), 3);
  auto unet = UNet::Create(ref_.weights.unet, options_);
  ASSERT_TRUE(unet.ok()) << unet.status().ToString();
  EXPECT_EQ(net_->num_residuals(), unet->num_skips());
  EXPECT_TRUE(net_->CheckFits(*unet).ok());
}

TEST_F(ControlNetTest, ResidualsAndControlledUNetMatchReference) {
  DebugTaps taps;
  auto residuals = net_->Forward(sample_, timesteps_, context_, hint_, scale_, &taps);
  ASSERT_TRUE(residuals.ok()) << residuals.status().ToString();
  ASSERT_EQ(static_cast<int64_t>(residuals->down.size()), net_->num_residuals());
  for (size_t i = 0; i < residuals->down.size(); ++i) {
    const std::string name = "controlnet_down_res_" + std::to_string(i);
    EXPECT_TRUE(AllClose(name, residuals->down[i], IoTensor(ref_, name)));
  }
  EXPECT_TRUE(AllClose("controlnet_mid_res", residuals->mid, IoTensor(ref_, "controlnet_mid_res")));
  EXPECT_TRUE(taps.count("hint_embedding") && taps.count("mid_block") && taps.count("down_block_0"));

  auto unet = UNet::Create(ref_.weights.unet, options_);
  ASSERT_TRUE(unet.ok()) << unet.status().ToString();
  auto eps = unet->Forward(sample_, timesteps_, context_, &*residuals);
  ASSERT_TRUE(eps.ok()) << eps.status().ToString();
  EXPECT_TRUE(AllClose("controlnet_unet_eps", *eps, IoTensor(ref_, "controlnet_unet_eps")));
}

TEST_F(ControlNetTest, ScaleMultipliesEveryResidualAndOneHintServesTheBatch) {
  auto one = net_->Forward(sample_, timesteps_, context_, hint_, 1.0);
  auto half = net_->Forward(sample_, timesteps_, context_, hint_, 0.5);
  ASSERT_TRUE(one.ok() && half.ok());
  for (size_t i = 0; i < one->down.size(); ++i) EXPECT_TRUE(at::allclose(half->down[i], one->down[i] * 0.5));
  EXPECT_TRUE(at::allclose(half->mid, one->mid * 0.5));

  // Hint batch 1 is broadcast over the latent batch.
  at::Tensor first = hint_.narrow(0, 0, 1);
  auto broadcast = net_->Forward(sample_, timesteps_, context_, first, 1.0);
  auto repeated = net_->Forward(sample_, timesteps_, context_, first.expand_as(hint_).contiguous(), 1.0);
  ASSERT_TRUE(broadcast.ok() && repeated.ok()) << broadcast.status().ToString();
  EXPECT_TRUE(AllClose("broadcast hint mid", broadcast->mid, repeated->mid, 1e-5, 1e-5));
}

TEST_F(ControlNetTest, DiffusersLayoutFileAndFolderGiveTheSameModel) {
  auto checkpoint = LoadControlNetCheckpoint(dir_ + "/tiny_controlnet.safetensors");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().ToString();
  EXPECT_TRUE(checkpoint->original_layout);
  ASSERT_TRUE(WriteSafetensors(Scratch("diffusers.safetensors"), checkpoint->weights).ok());
  fs::create_directories(Scratch("folder"));
  ASSERT_TRUE(WriteSafetensors(Scratch("folder/diffusion_pytorch_model.safetensors"), checkpoint->weights).ok());
  // The original layout without the control_model. prefix, as some files ship.
  auto ldm = ControlNetToLdm(checkpoint->weights);
  ASSERT_TRUE(ldm.ok()) << ldm.status().ToString();
  TensorMap bare;
  for (const auto& [key, tensor] : *ldm) bare.emplace(key.substr(std::string(kControlNetLdmPrefix).size()), tensor);
  ASSERT_TRUE(WriteSafetensors(Scratch("bare.safetensors"), bare).ok());

  auto expected = Run(*net_);
  ASSERT_TRUE(expected.ok());
  for (const char* path : {"diffusers.safetensors", "folder", "bare.safetensors"}) {
    auto net = ControlNet::Load(Scratch(path), options_);
    ASSERT_TRUE(net.ok()) << path << ": " << net.status().ToString();
    auto got = Run(*net);
    ASSERT_TRUE(got.ok()) << path;
    for (size_t i = 0; i < got->down.size(); ++i) EXPECT_TRUE(at::equal(got->down[i], expected->down[i])) << path;
    EXPECT_TRUE(at::equal(got->mid, expected->mid)) << path;
  }
}

TEST_F(ControlNetTest, MissingUnexpectedAndMisshapedTensorsAreNamed) {
  TensorMap weights = net_->weights();
  weights.erase("controlnet_down_blocks.3.weight");
  weights.erase("controlnet_cond_embedding.conv_out.bias");
  weights["controlnet_extra.weight"] = at::zeros({2});
  weights["controlnet_mid_block.bias"] = at::zeros({3});
  auto broken = ControlNet::Create(weights, options_);
  ASSERT_FALSE(broken.ok());
  const std::string message = broken.status().message();
  for (const char* name : {"controlnet_down_blocks.3.weight", "controlnet_cond_embedding.conv_out.bias",
                           "controlnet_extra.weight", "controlnet_mid_block.bias"}) {
    EXPECT_NE(message.find(name), std::string::npos) << name << " not in: " << message;
  }

  TensorMap no_embedding = net_->weights();
  no_embedding.erase("controlnet_cond_embedding.conv_in.weight");
  auto unsized = ControlNet::Create(no_embedding, options_);
  ASSERT_FALSE(unsized.ok());
  EXPECT_NE(unsized.status().message().find("controlnet_cond_embedding.conv_in.weight"), std::string::npos);

  // A UNet checkpoint is not a ControlNet.
  auto not_controlnet = ControlNet::Load(dir_ + "/tiny_ldm.safetensors", options_);
  ASSERT_FALSE(not_controlnet.ok());
  EXPECT_NE(not_controlnet.status().message().find("tiny_ldm.safetensors"), std::string::npos);
}

TEST_F(ControlNetTest, BadInputsAreErrors) {
  at::Tensor small_hint = hint_.narrow(2, 0, hint_.size(2) / 2);
  auto wrong_size = net_->Forward(sample_, timesteps_, context_, small_hint);
  ASSERT_FALSE(wrong_size.ok());
  EXPECT_NE(wrong_size.status().message().find("hint"), std::string::npos);
  at::Tensor gray = hint_.narrow(1, 0, 1);
  EXPECT_FALSE(net_->Forward(sample_, timesteps_, context_, gray).ok());
  EXPECT_FALSE(net_->Forward(sample_, timesteps_, context_, at::Tensor()).ok());
  EXPECT_FALSE(net_->Forward(sample_, timesteps_, context_.narrow(0, 0, 1), hint_).ok());
  EXPECT_FALSE(net_->Forward(sample_.narrow(1, 0, 3), timesteps_, context_, hint_).ok());
}

}  // namespace
}  // namespace farm::sd
