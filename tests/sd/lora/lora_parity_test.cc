// End-to-end: the tiny CLIP and UNet with tiny_lora merged in place reproduce the
// outputs diffusers computed after its own kohya-LoRA merge, and unmerging gives the
// base outputs back.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "farm/sd/checkpoint.h"
#include "farm/sd/clip_text_model.h"
#include "farm/sd/lora.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/unet.h"
#include "lora_test_util.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

constexpr double kTolerance = 1e-4;  // README: single forward passes, atol = rtol = 1e-4

void ExpectClose(const StatusOr<at::Tensor>& actual, const at::Tensor& expected, const char* what) {
  ASSERT_TRUE(actual.ok()) << what << ": " << actual.status().ToString();
  ASSERT_EQ(actual->sizes(), expected.sizes()) << what;
  EXPECT_TRUE(at::allclose(*actual, expected, kTolerance, kTolerance))
      << what << ": max abs diff " << testing::MaxAbsDiff(*actual, expected);
}

TEST(LoraParityTest, MergedModelsMatchTheReferenceAndUnmergeRestoresThem) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  Json config = testing::ReadJsonFile(dir + "/tiny_config.json");
  const Json& clip_config = *config.Find("clip_config");
  const Json& unet_config = *config.Find("unet_diffusers_config");

  auto weights = LoadCheckpoint(dir + "/tiny_ldm.safetensors");
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  auto lora = ReadLoraFile(dir + "/tiny_lora.safetensors");
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  auto io = ReadSafetensors(dir + "/tiny_io.safetensors");
  ASSERT_TRUE(io.ok()) << io.status().ToString();

  ClipTextOptions clip_options;
  clip_options.num_heads = *clip_config.Find("num_attention_heads")->AsInt64();
  clip_options.layer_norm_eps = clip_config.Find("layer_norm_eps")->number();
  // The models share the tensors of `weights` (TensorMap copies are shallow), so the
  // in-place merge below reaches them without recreating anything.
  auto clip = ClipTextModel::Create(weights->text_encoder, clip_options);
  ASSERT_TRUE(clip.ok()) << clip.status().ToString();

  UNetOptions unet_options;
  // SD 1.x configs name the head count "attention_head_dim"; newer ones "num_attention_heads".
  const Json* heads = unet_config.Find("num_attention_heads");
  if (heads == nullptr || heads->is_null()) heads = unet_config.Find("attention_head_dim");
  unet_options.num_heads = *heads->AsInt64();
  unet_options.norm_groups = *unet_config.Find("norm_num_groups")->AsInt64();
  unet_options.resnet_norm_eps = unet_config.Find("norm_eps")->number();
  auto unet = UNet::Create(weights->unet, unet_options);
  ASSERT_TRUE(unet.ok()) << unet.status().ToString();

  const at::Tensor& ids = io->at("clip_input_ids");
  const double multiplier = io->at("lora_multiplier").item<double>();
  auto run_unet = [&] {
    return unet->Forward(io->at("unet_sample"), io->at("unet_timesteps"),
                         io->at("unet_encoder_hidden_states"));
  };
  {
    auto merged = MergeLoras(*weights, {{&*lora, multiplier}});
    ASSERT_TRUE(merged.ok()) << merged.status().ToString();
    ExpectClose(clip->Forward(ids, 1), io->at("lora_clip_last_hidden_state"), "lora_clip_last_hidden_state");
    ExpectClose(clip->Forward(ids, 2), io->at("lora_clip_penultimate_ln"), "lora_clip_penultimate_ln");
    ExpectClose(run_unet(), io->at("lora_unet_eps"), "lora_unet_eps");
  }
  ExpectClose(clip->Forward(ids, 1), io->at("clip_last_hidden_state"), "clip_last_hidden_state");
  ExpectClose(run_unet(), io->at("unet_eps"), "unet_eps");
}

}  // namespace
}  // namespace farm::sd
