// A light check of a model file before a sweep is submitted: reads only the safetensors
// header (8-byte little-endian length, then JSON), never the tensors and never with
// libtorch, so `farmctl sweep validate` and `farmctl run` catch a missing, truncated,
// corrupt or wrong file in milliseconds instead of every render failing on the agents.
//
// What it checks: the file exists (a folder only where the diffusers layout allows one);
// it is not a pickle checkpoint; the header length fits the file and a sane limit; the
// header is a JSON object whose every tensor has a known dtype, a shape and data_offsets
// that fit the data section and match dtype × shape (a truncated file fails here); and
// the tensor names match what the role expects, by the key conventions kernels/sd reads:
//   checkpoint  SD 1.5 in the LDM layout (model.diffusion_model., first_stage_model.,
//               cond_stage_model.) or a diffusers folder (unet/, vae/, text_encoder/);
//   ControlNet  original layout (control_model.*, or the same names unprefixed) or
//               diffusers (controlnet_cond_embedding.*, controlnet_down_blocks.*), as a
//               file or a folder holding diffusion_pytorch_model[.fp16].safetensors;
//   LoRA        kohya names (lora_unet_*, lora_te_*);
//   embedding   one tensor (A1111's emb_params, a diffusers concept, clip_l alone); an
//               SDXL embedding (clip_g + clip_l) is named and refused.
// A checkpoint whose UNet takes 9 input channels (an inpainting checkpoint) is refused with
// what to use instead: the engine renders with a 4-channel UNet. Whether a `vae:` file fits
// the checkpoint is vae_fit.h's check.
// It does not check shapes against the architecture or the tensor bytes (NaN, noise):
// the agent does, and its failure is then permanent (the job fails with its message).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farmctl {

enum class ModelRole { kCheckpoint, kControlNet, kLora, kVae, kEmbedding };

// "SD 1.5 checkpoint", "ControlNet", "LoRA", "VAE", "textual-inversion embedding" for messages.
const char* ModelRoleName(ModelRole role);

// Headers longer than this are refused as the engine refuses them (kernels/sd/io).
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// OK, or an error naming `path` and what was expected: NotFound (no such file),
// DataLoss (truncated: shorter than its header or its tensors say), InvalidArgument
// (pickle, not a safetensors file, malformed header, wrong architecture).
farm::Status CheckModelFile(const std::string& path, ModelRole role);

// One tensor as the header describes it.
struct TensorInfo {
  std::string name;
  std::string dtype;  // "F16", "F32", "BF16", ...
  std::vector<std::uint64_t> shape;
  std::uint64_t bytes = 0;
};

// A safetensors header, checked as CheckSafetensorsHeader checks it (lengths, dtypes,
// offsets that fit the file) but without the role's key check.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;               // sorted by name
  std::map<std::string, std::string> metadata;   // "__metadata__" (string values only)
};
farm::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::string& path);

// Whether `path` is a pickle checkpoint, by extension (.ckpt/.pt/.pth/.bin) or by its
// first bytes (a PK zip as torch.save writes, or 0x80 and a pickle protocol 2-5); the
// file is never loaded.
bool IsPickleFile(const std::string& path);

// The header alone: `path` must be a single .safetensors file. `expect_keys` false skips
// the architecture check (a diffusers folder's parts are checked by their folder).
farm::Status CheckSafetensorsHeader(const std::string& path, ModelRole role, bool expect_keys);

}  // namespace farmctl
