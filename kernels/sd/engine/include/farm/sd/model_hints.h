// What a checkpoint's tensor shapes cannot tell: attention head counts and GroupNorm
// group counts.
#pragma once

#include <string>

#include "farm/schemas/status.h"
#include "farm/sd/architecture.h"

namespace farm::sd {

// SD 1.5's counts, overridden by what the checkpoint says: the studiofarm.* metadata of
// a single .safetensors file (architecture.h), or a diffusers folder's config.json files
// (unet: attention_head_dim, norm_num_groups; vae: norm_num_groups; text_encoder:
// num_attention_heads). Only the head and group counts of the result are meaningful.
StatusOr<SdArchitecture> ReadModelHints(const std::string& checkpoint);

// The head and group counts for a ControlNet file or diffusers folder: those of `base`
// (the UNet it controls) unless the file's studiofarm.unet.* metadata or the folder's
// config.json (attention_head_dim, norm_num_groups) says otherwise.
StatusOr<UNetArchitecture> ReadControlNetHints(const std::string& controlnet, const UNetArchitecture& base);

}  // namespace farm::sd
