// The per-run schedule: the noise level before each step, the target of the last step,
// and the timestep the UNet sees at each step.
//
// Samplers work in the k-diffusion ("variance exploding") formulation: the latent x at
// noise level sigma is x0 + sigma * noise, the UNet sees x / sqrt(sigma^2 + 1). The
// schedules come in two flavours:
//  * kFrontEnd (default): what A1111 / k-diffusion do. "normal" spaces t linearly from
//    999 to 0 and maps it to sigma by interpolating log sigma; "karras" spaces
//    sigma^(1/7) linearly between the model's sigma_min and sigma_max; both end at 0 and
//    feed the UNet t = SigmaToT(sigma), fractional.
//  * kDiffusersReference: diffusers v0.25.1 with SD 1.5's scheduler settings
//    ("linspace" timestep spacing), reproduced exactly for parity checks:
//      Euler / Euler a / DPM++ SDE: t = linspace(0, 999, steps) reversed (float32), sigma
//        linearly interpolated in t, final 0; Karras: sigmas as above from the
//        interpolated endpoints, t = SigmaToT (fractional). x_T = noise * sigma_max.
//      DPM++ 2M: t = round(linspace(0, 999, steps + 1)) reversed without the last, sigma
//        interpolated, final sigma = training sigma_min; Karras: t = round(SigmaToT) and
//        the last sigma repeated as the final target (the last step is then a no-op).
//        Latents are VP-scaled there (x_T = noise), i.e. x_T = noise * sqrt(sigma_0^2 + 1)
//        here. Below 15 steps the last step is first order.
//  * DDIM (both flavours): timesteps t_k = k * (1000 / steps) + 1 for k = steps-1 .. 0
//    (the "uniform" spacing of the original DDIM sampler that A1111 uses, and
//    diffusers' "leading" spacing with steps_offset 1: the two agree), sigma = training
//    sigma at t_k, final target the training sigma at t = 0 (alphas_cumprod[0], as both
//    do). x_T = noise * sqrt(sigma_0^2 + 1) (DDIM starts from unit noise in VP scaling).
//    When 1000 is not a multiple of steps the original sampler runs one extra step;
//    this one runs exactly `steps`.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sd/sampler_names.h"
#include "farm/sd/training_schedule.h"

namespace farm::sd {

enum class ScheduleSemantics { kFrontEnd, kDiffusersReference };

struct Schedule {
  std::vector<double> sigmas;     // steps + 1, non-increasing; sigmas[i] -> sigmas[i + 1] is step i
  std::vector<double> timesteps;  // steps; the UNet timestep at step i (integral for DPM/DDIM)
  double init_noise_sigma = 0;    // txt2img: x_T = noise * init_noise_sigma
  // Sample() returns the latent at the final sigma times this: 1 when the last sigma is
  // 0; 1 / sqrt(sigma_last^2 + 1) for DDIM and the diffusers DPM-Solver schedule, which
  // stop at sigma_min and hand back their VP-scaled latent for decoding.
  double output_scale = 1.0;
  ScheduleSemantics semantics = ScheduleSemantics::kFrontEnd;
  // Maps sigmas off the schedule (DPM++ SDE's midpoints) to UNet timesteps.
  std::shared_ptr<const TrainingSchedule> training;

  int64_t steps() const;
  // The UNet timestep for any sigma (training->SigmaToT).
  double TimestepForSigma(double sigma) const;
};

// The schedule a sampler uses. `training` null means SD 1.5.
StatusOr<Schedule> MakeSchedule(const SamplerSpec& spec, int64_t steps,
                                ScheduleSemantics semantics = ScheduleSemantics::kFrontEnd,
                                std::shared_ptr<const TrainingSchedule> training = nullptr);

// The individual schedules (all take steps >= 1).
StatusOr<Schedule> FrontEndNormalSchedule(std::shared_ptr<const TrainingSchedule> training,
                                          int64_t steps);
StatusOr<Schedule> FrontEndKarrasSchedule(std::shared_ptr<const TrainingSchedule> training,
                                          int64_t steps);
StatusOr<Schedule> DdimSchedule(std::shared_ptr<const TrainingSchedule> training, int64_t steps);
StatusOr<Schedule> DiffusersEulerSchedule(std::shared_ptr<const TrainingSchedule> training,
                                          int64_t steps, bool karras);
StatusOr<Schedule> DiffusersDpmSolverSchedule(std::shared_ptr<const TrainingSchedule> training,
                                              int64_t steps, bool karras);

// Karras et al. (2022) sigmas: (smax^(1/rho) + i/(n-1) * (smin^(1/rho) - smax^(1/rho)))^rho,
// n values, without a final 0.
std::vector<double> KarrasSigmas(int64_t n, double sigma_min, double sigma_max, double rho = 7.0);

// img2img (A1111 definition): with t_enc = int(min(strength, 0.999) * steps), sampling
// starts at step index steps - t_enc - 1, so t_enc + 1 steps run. The caller adds noise
// at schedule.sigmas[start]. InvalidArgument unless 0 <= strength <= 1 and steps >= 1.
StatusOr<int64_t> Img2ImgStart(int64_t steps, double strength);

}  // namespace farm::sd
