// A VAE-only .safetensors file cut from an LDM checkpoint, written byte by byte (the
// farmctl tests do not link libtorch): what a user drops into models/ as `vae:`.
#pragma once

#include <string>

namespace farmctl_test {

struct VaeFileOptions {
  // decoder.conv_out.weight (F32) is multiplied by this, so that images decoded with the
  // file differ from the checkpoint's own VAE.
  float decoder_out_scale = 0.5f;
  // A tensor left out (its name without first_stage_model.), "" for none: a VAE that does
  // not fit the checkpoint.
  std::string drop;
};

// Writes the checkpoint's first_stage_model.* tensors, without that prefix, to `vae_path`.
// "" on success, else what went wrong.
std::string WriteVaeFromCheckpoint(const std::string& checkpoint_path, const std::string& vae_path,
                                   const VaeFileOptions& options = {});

}  // namespace farmctl_test
