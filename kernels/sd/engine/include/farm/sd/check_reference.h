// The parity check against reference data produced by the public reference
// implementation (diffusers/transformers on CPU, fp32): a folder in the layout of
// shared/reference/sd15 (tiny_ldm.safetensors, tiny_lora.safetensors,
// tiny_controlnet.safetensors, tiny_io.safetensors, tiny_config.json). Every case whose
// tensors are present is run: CLIP (incl. clip skip 2 and every hidden state), UNet
// (integer and fractional timesteps, block taps), VAE encode/decode, each recorded
// sampler trajectory with CFG (schedule, UNet inputs, guided eps, denoised estimate,
// every step latent, final latent and image), LoRA merge and exact unmerge, ControlNet
// (tiny_controlnet.safetensors, original layout: every down residual, the mid residual,
// and the UNet output with them added).
//
// Samplers run with ScheduleSemantics::kDiffusersReference, the reference's scheduler
// behaviour; Euler a replays the reference's recorded noise.
#pragma once

#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/tensor_compare.h"

namespace farm::sd {

struct ReferenceCheckOptions {
  // max |a - b| / max |reference| for fp32 tensors (the README of the reference set).
  double tolerance = 1e-4;
  // Sigmas: absolute; timesteps are compared in float32 exactly.
  double sigma_atol = 1e-5;
  // 8-bit images may differ by one level where a value sits on a rounding boundary.
  int uint8_max_step = 1;
};

struct ReferenceCheckReport {
  std::string dir;
  std::vector<TensorComparison> rows;  // in the order run
  std::vector<std::string> skipped;    // cases found but not run, with the reason
  bool passed() const;
};

StatusOr<ReferenceCheckReport> CheckReference(const std::string& dir,
                                              const ReferenceCheckOptions& options = {});

}  // namespace farm::sd
