// One object per sampler that advances the latent by one schedule step; it keeps what
// a multistep method needs from earlier steps.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "farm/sd/sampler.h"

namespace farm::sd {

struct StepperContext {
  Denoiser& denoiser;
  const Schedule& schedule;
  NoiseSource& noise;
  const SamplerOptions& options;
  int64_t start_step;
};

class Stepper {
 public:
  virtual ~Stepper() = default;
  // x at schedule.sigmas[i] -> x at schedule.sigmas[i + 1].
  virtual StatusOr<at::Tensor> Step(int64_t i, const at::Tensor& x) = 0;
};

std::unique_ptr<Stepper> MakeStepper(SamplerKind sampler, const StepperContext& context);

// k-diffusion's get_ancestral_step: the deterministic target sigma_down and the noise
// sigma_up of an ancestral step from -> to, with sigma_down^2 + sigma_up^2 = to^2.
struct AncestralStep {
  double sigma_down;
  double sigma_up;
};
AncestralStep GetAncestralStep(double sigma_from, double sigma_to, double eta);

}  // namespace farm::sd
