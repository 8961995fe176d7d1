// What a model file is, from its safetensors header alone (tensor names, shapes and the
// __metadata__ strings), for `farmctl models add`. Kinds StudioFarm uses:
//   sd15             SD 1.5 checkpoint (LDM layout; UNet input_blocks.0.0 takes 4 channels)
//   sd15-inpainting  the same with a 9-channel UNet input (latent + mask + masked image)
//   lora             kohya (lora_unet_*, lora_te_*: LoRA, LoCon, LyCORIS LoHa and LoKr), PEFT
//                    (.lora_A./.lora_B.) or older diffusers (.lora.down., .lora_linear_layer.,
//                    processor to_q_lora) names
//   controlnet       control_model.* (original) or controlnet_* (diffusers)
//   vae              encoder./decoder. (or first_stage_model.) and nothing else
//   embedding        textual inversion (emb_params, or clip_l for SD 1.5's text encoder)
// Refused, each with what to do instead: SD 2.x (OpenCLIP text encoder
// cond_stage_model.model.*, or 1024-wide cross-attention: attn2.to_k [320, 1024]), SDXL
// (conditioner.embedders.*), SD3 (joint_blocks), Flux (double_blocks), v-prediction (a
// `v_pred` tensor, or metadata modelspec.prediction_type / prediction_type of "v" or
// "v_prediction"), LyCORIS (IA)^3/GLoRA/full, OFT and DoRA files (named), an
// SD UNet with another input width, and anything unrecognised.
#pragma once

#include <string>

#include "farm/schemas/status.h"
#include "model_file_check.h"

namespace farmctl {

// The kind name above, or InvalidArgument naming `path`, what it is and what to do.
farm::StatusOr<std::string> DetectModelKind(const std::string& path, const SafetensorsHeader& header);

// The dtype holding most of the tensors' bytes ("F16", "F32", ...); "" with no tensors.
std::string MainDtype(const SafetensorsHeader& header);

}  // namespace farmctl
