// The tiny reference model (shared/reference/sd15/tiny_ldm.safetensors) as the training
// tests use it: its weights and head/group counts, fresh models made from them, and a
// random micro-batch.
#pragma once

#include <memory>
#include <string>

#include "farm/sd/clip_text_model.h"
#include "farm/sd/tensor_map.h"
#include "farm/sd/train_step.h"
#include "farm/sd/unet.h"

namespace farm::sd::testing {

struct TinyParts {
  TensorMap unet_weights, text_weights;
  UNetOptions unet;
  ClipTextOptions text;
};

struct TinyModels {
  std::unique_ptr<UNet> unet;
  std::unique_ptr<ClipTextModel> text;
};

// Reads the checkpoint and tiny_config.json of `sd15` (a test failure when they do not load).
TinyParts LoadTinyParts(const std::string& sd15);
// Models sharing the parts' weight tensors.
TinyModels MakeTinyModels(const TinyParts& parts);
TinyModels LoadTinyModels(const std::string& sd15);

// Two samples: random latents and noise [2, 4, 8, 8], timesteps 10 and 700, random ids.
TrainBatch RandomBatch(const ClipTextModel& text, int64_t seed);

}  // namespace farm::sd::testing
