// SD 1.5 ControlNet weights from the layouts people publish, renamed to the names of
// diffusers' ControlNetModel, which the model (models/controlnet.h) is written against:
//   * the original ControlNet ("cldm") single file: control_model.time_embed.*,
//     control_model.input_blocks.*, control_model.middle_block.* (named like the UNet's
//     encoder half, renamed by the UNet's LDM <-> diffusers maps in src/unet_names.cc),
//     control_model.input_hint_block.{0,2,...,2k+2} (conv_in, blocks.0..k-1, conv_out;
//     odd indices are SiLUs), control_model.zero_convs.N.0.*, control_model.middle_block_out.0.*.
//     Some files carry the same keys without the prefix; whole cldm checkpoints also hold
//     the UNet/VAE/text encoder, whose keys are ignored.
//   * diffusers: controlnet_cond_embedding.*, conv_in.*, time_embedding.*, down_blocks.*,
//     mid_block.*, controlnet_down_blocks.N.*, controlnet_mid_block.*; as one .safetensors
//     file or a folder holding diffusion_pytorch_model[.fp16].safetensors (+ config.json).
#pragma once

#include <c10/core/ScalarType.h>

#include <map>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/tensor_map.h"

namespace farm::sd {

inline constexpr const char* kControlNetLdmPrefix = "control_model.";

struct ControlNetCheckpoint {
  TensorMap weights;                      // diffusers names, e.g. "controlnet_down_blocks.3.weight"
  std::vector<std::string> ignored_keys;  // keys of the file that are not ControlNet weights
  bool original_layout = false;           // true: the file used the cldm names
  std::map<std::string, std::string> metadata;  // the safetensors "__metadata__" (single files)
};

// A single .safetensors file in either layout, or a diffusers folder. Pickle files are
// refused with an explanation; floating-point tensors are converted to `dtype`. A file
// that holds no ControlNet tensors, or original-layout keys that have no diffusers
// counterpart, is an InvalidArgument naming the file and the keys. Missing tensors are
// reported by ControlNet::Create, which knows which ones the shapes imply.
StatusOr<ControlNetCheckpoint> LoadControlNetCheckpoint(const std::string& path,
                                                        at::ScalarType dtype = at::kFloat);

// Original layout -> diffusers names. `mapped`: file key -> diffusers name. When any key
// has the control_model. prefix, keys without it are `ignored`; unmappable ControlNet
// keys are one error listing them all.
struct ControlNetNameMap {
  std::map<std::string, std::string> mapped;
  std::vector<std::string> ignored;
};
StatusOr<ControlNetNameMap> MapControlNetLdmNames(const std::vector<std::string>& keys);

// The reverse: diffusers names -> original keys with the control_model. prefix.
StatusOr<std::map<std::string, std::string>> MapControlNetDiffusersNamesToLdm(
    const std::vector<std::string>& diffusers_names);

// A diffusers-named ControlNet as an original-layout state dict (for writing files).
StatusOr<TensorMap> ControlNetToLdm(const TensorMap& diffusers);

}  // namespace farm::sd
