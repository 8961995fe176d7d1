// Only the VAE of an SD 1.5 checkpoint: the latent cache needs none of the UNet's or the
// text encoder's 3+ GB.
#pragma once

#include <string>

#include "farm/schemas/status.h"
#include "farm/sd/vae.h"

namespace farm::agent::internal {

// Reads the first_stage_model.* tensors of a single-file LDM checkpoint as float32 and
// builds the Vae with the GroupNorm count the checkpoint's metadata gives (model_hints.h).
StatusOr<sd::Vae> LoadCheckpointVae(const std::string& checkpoint);

}  // namespace farm::agent::internal
