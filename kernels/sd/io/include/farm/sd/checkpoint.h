// SD 1.5 weights from either file layout people publish, renamed to the diffusers
// names the models are written against:
//   * a single .safetensors file in the original LDM layout (A1111/ComfyUI checkpoints),
//     keys prefixed model.diffusion_model. / first_stage_model. /
//     cond_stage_model.transformer.text_model.;
//   * a diffusers folder (unet/, vae/, text_encoder/).
// The LDM <-> diffusers renaming follows diffusers' conversion script, but its index
// arithmetic (input_blocks.{3*i+j+1}, decoder.up.{3-i}, ...) is derived from the blocks
// present in the names, so models with SD 1.5's topology and other widths map too.
#pragma once

#include <c10/core/ScalarType.h>

#include <map>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

struct SdWeights {
  TensorMap unet;          // e.g. "down_blocks.0.attentions.0.proj_in.weight"
  TensorMap vae;           // e.g. "decoder.up_blocks.0.resnets.0.conv1.weight" (mid attention as Linear [C,C])
  TensorMap text_encoder;  // e.g. "text_model.encoder.layers.0.self_attn.q_proj.weight"
  std::vector<std::string> ignored_keys;  // keys of the file that are not model weights
};

// A single .safetensors file in the original LDM layout, or a diffusers folder.
// Pickle files (.ckpt/.pt/.bin/.pth) are refused with a message saying why and how to convert.
// Floating-point weights are converted to `dtype` (fp16 files load as fp32 by default).
StatusOr<SdWeights> LoadCheckpoint(const std::string& path, at::ScalarType dtype = at::kFloat);

// A VAE-only .safetensors file (e.g. the ft-MSE VAE people swap into SD 1.5) in the LDM
// layout (encoder.down.*, decoder.up.*, quant_conv.*, post_quant_conv.*, with or without
// the first_stage_model. prefix) or the diffusers layout (encoder.down_blocks.*, ...),
// renamed to the diffusers names of SdWeights::vae. Keys that are not VAE weights (loss.*,
// model_ema.*) are skipped; a key of another component (a full checkpoint) is an error.
StatusOr<TensorMap> LoadVaeFile(const std::string& path, at::ScalarType dtype = at::kFloat);

// Replaces the VAE of `weights` with `vae` (from LoadVaeFile): every tensor of the
// checkpoint's VAE must be there with the same shape, and no other, so a VAE of another
// architecture is refused with the first mismatching name.
Status ReplaceVae(SdWeights& weights, TensorMap vae);

enum class SdComponent { kUnet, kVae, kTextEncoder };
// "unet", "vae", "text_encoder": also the folder names of the diffusers layout.
const char* SdComponentName(SdComponent component);
// The key prefix of the component in an LDM file ("model.diffusion_model." ...).
const char* LdmPrefix(SdComponent component);

// Where one LDM key goes.
struct DiffusersName {
  SdComponent component;
  std::string name;
};
struct LdmNameMap {
  std::map<std::string, DiffusersName> mapped;  // LDM key -> component and diffusers name
  std::vector<std::string> ignored;             // not model weights (position_ids, model_ema.*, ...)
};
// Renames all keys of an LDM checkpoint at once (the layout is read from the whole key
// set). A key under a model prefix that does not belong to SD 1.5's architecture is an
// error naming it.
StatusOr<LdmNameMap> MapLdmNames(const std::vector<std::string>& ldm_keys);

// The reverse, one component at a time: diffusers names -> full LDM keys (with prefix).
StatusOr<std::map<std::string, std::string>> MapDiffusersNamesToLdm(
    SdComponent component, const std::vector<std::string>& diffusers_names);

// Renames an LDM state dict already in memory, reshaping the VAE mid-attention 1x1
// convs to linears and converting floating-point tensors to `dtype`.
StatusOr<SdWeights> SdWeightsFromLdm(const TensorMap& ldm, at::ScalarType dtype = at::kFloat);

// Renames one component's tensors to LDM keys and gives the VAE mid-attention
// linears their LDM 1x1-conv shape [C,C,1,1]; for writing LDM single files.
StatusOr<TensorMap> ComponentToLdm(SdComponent component, const TensorMap& diffusers);
// All three components as one LDM state dict.
StatusOr<TensorMap> SdWeightsToLdm(const SdWeights& weights);

}  // namespace farm::sd
