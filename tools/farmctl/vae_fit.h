// Whether a spec's `vae:` file fits its checkpoint, from the two safetensors headers alone:
// the check the agent makes when it swaps the VAE in (kernels/sd ReplaceVae: every tensor
// of the checkpoint's VAE, with its shape, and no other), made before a sweep is
// submitted, so an SDXL VAE or a VAE of another width is named by `sweep validate`
// instead of failing every render.
//
// Names are compared within one layout (LDM: encoder.down.*, with or without
// first_stage_model.; diffusers: encoder.down_blocks.*, older attention names included).
// A diffusers VAE against an LDM checkpoint (or the reverse) is compared by its multiset
// of shapes, with 1x1 convolutions [C,C,1,1] counted as linears [C,C] (the VAE attention
// projections are one in LDM files and the other in diffusers ones).
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farmctl {

// OK, or InvalidArgument naming `vae_path`, the checkpoint and the first difference.
// `checkpoint_path` is an LDM single file or a diffusers folder; both files are assumed
// to have passed CheckModelFile in their roles.
farm::Status CheckVaeFitsCheckpoint(const std::string& vae_path, const std::string& checkpoint_path);

}  // namespace farmctl
