#include "tiny_models.h"

#include <gtest/gtest.h>

#include "farm/sd/checkpoint.h"
#include "farm/sd/json.h"
#include "json_file.h"

namespace farm::sd::testing {

TinyParts LoadTinyParts(const std::string& sd15) {
  Json config = ReadJsonFile(sd15 + "/tiny_config.json");
  auto weights = LoadCheckpoint(sd15 + "/tiny_ldm.safetensors");
  EXPECT_TRUE(weights.ok()) << weights.status().ToString();
  TinyParts parts;
  if (!weights.ok()) return parts;
  parts.unet_weights = weights->unet;
  parts.text_weights = weights->text_encoder;
  parts.text.num_heads = *config.Find("clip_config")->Find("num_attention_heads")->AsInt64();
  parts.unet.num_heads = *config.Find("unet_diffusers_config")->Find("attention_head_dim")->AsInt64();
  parts.unet.norm_groups = *config.Find("unet_diffusers_config")->Find("norm_num_groups")->AsInt64();
  return parts;
}

TinyModels MakeTinyModels(const TinyParts& parts) {
  TinyModels m;
  auto text = ClipTextModel::Create(parts.text_weights, parts.text);
  auto unet = UNet::Create(parts.unet_weights, parts.unet);
  EXPECT_TRUE(text.ok() && unet.ok());
  if (text.ok()) m.text = std::make_unique<ClipTextModel>(std::move(*text));
  if (unet.ok()) m.unet = std::make_unique<UNet>(std::move(*unet));
  return m;
}

TinyModels LoadTinyModels(const std::string& sd15) { return MakeTinyModels(LoadTinyParts(sd15)); }

TrainBatch RandomBatch(const ClipTextModel& text, int64_t seed) {
  at::manual_seed(seed);
  TrainBatch b;
  b.latents = at::randn({2, 4, 8, 8});
  b.noise = at::randn({2, 4, 8, 8});
  b.timesteps = at::tensor({10, 700}, at::kLong);
  b.input_ids = at::randint(0, text.vocab_size(), {2, text.max_positions()}, at::kLong);
  return b;
}

}  // namespace farm::sd::testing
