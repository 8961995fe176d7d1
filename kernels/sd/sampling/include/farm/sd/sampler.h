// The samplers (k-diffusion formulation, see schedule.h): Euler, Euler ancestral,
// DPM++ 2M, DPM++ SDE (r = 1/2, Brownian noise) and DDIM (eta 0). Each step i takes the
// latent from schedule.sigmas[i] to schedule.sigmas[i + 1] and calls the denoiser with
// schedule.timesteps[i] (DPM++ SDE also once at the midpoint sigma).
//
//  Euler:     x += (sigma' - sigma) * (x - D) / sigma.
//  Euler a:   sigma_up = min(sigma', eta * sqrt(sigma'^2 (sigma^2 - sigma'^2) / sigma^2)),
//             sigma_down = sqrt(sigma'^2 - sigma_up^2); Euler to sigma_down, then
//             + s_noise * sigma_up * Gaussian. Front end: no noise is drawn when sigma' = 0;
//             reference: one draw per step, as diffusers does.
//  DPM++ 2M:  multistep DPM-Solver++ (midpoint), first order on the first step run and
//             on a step to sigma' = 0 (front end) or on the last step of fewer than 15
//             (reference, diffusers' lower_order_final).
//  DPM++ SDE: k-diffusion's sample_dpmpp_sde; a step to sigma' = 0 is an Euler step.
//  DDIM:      eta 0 is exactly an Euler step between the DDIM schedule's sigmas.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>

#include "farm/schemas/status.h"
#include "farm/sd/denoiser.h"
#include "farm/sd/noise.h"
#include "farm/sd/sampler_names.h"
#include "farm/sd/schedule.h"

namespace farm::sd {

// Called after each step: `done` steps of `total` (both counting only the steps this
// run executes, so img2img reports 1..t_enc+1).
using ProgressCallback = std::function<void(int64_t done, int64_t total)>;
// Called after step i with the latent at sigma = schedule.sigmas[i + 1]; returns the
// latent to continue from (inpainting puts the noised original back outside the mask).
using AfterStepCallback =
    std::function<StatusOr<at::Tensor>(int64_t step, const at::Tensor& x, double sigma)>;
// Polled before each step; true stops the run with CancelledAtStep's status.
using CancelledCheck = std::function<bool()>;

struct SamplerOptions {
  int64_t start_step = 0;  // img2img: Img2ImgStart(); the input latent is at sigmas[start_step]
  double eta = 1.0;        // ancestral noise amount (Euler a, DPM++ SDE)
  double s_noise = 1.0;    // noise multiplier (Euler a, DPM++ SDE)
  ProgressCallback on_progress;
  AfterStepCallback after_step;
  CancelledCheck cancelled;  // empty: never cancelled
};

// FailedPrecondition "render cancelled at step <done>/<total>" (steps of this run), the
// status a cancelled sampler or engine call returns; IsRenderCancelled recognises it.
Status CancelledAtStep(int64_t done, int64_t total);
Status RenderCancelled(const std::string& where);
bool IsRenderCancelled(const Status& status);

// Runs the steps start_step .. schedule.steps()-1 from latent x (float, [N, C, H, W], at
// schedule.sigmas[start_step]) and returns the final latent to decode (times
// schedule.output_scale; callbacks see the unscaled latents). Errors from the model,
// the noise or a callback are returned with the step that failed.
StatusOr<at::Tensor> Sample(SamplerKind sampler, Denoiser& denoiser, const Schedule& schedule,
                            const at::Tensor& x, NoiseSource& noise,
                            const SamplerOptions& options = {});

// txt2img start: noise.Gaussian(shape) * schedule.init_noise_sigma (the first draw).
StatusOr<at::Tensor> Txt2ImgStartLatent(NoiseSource& noise, at::IntArrayRef shape,
                                        const Schedule& schedule,
                                        const at::TensorOptions& options);
// img2img start: init_latent + noise.Gaussian * schedule.sigmas[start_step].
StatusOr<at::Tensor> Img2ImgStartLatent(NoiseSource& noise, const at::Tensor& init_latent,
                                        const Schedule& schedule, int64_t start_step);

}  // namespace farm::sd
