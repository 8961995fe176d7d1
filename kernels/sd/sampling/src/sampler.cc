#include "farm/sd/sampler.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "steppers.h"

namespace farm::sd {
namespace {

Status CheckSchedule(const Schedule& schedule) {
  if (schedule.timesteps.empty() || schedule.sigmas.size() != schedule.timesteps.size() + 1) {
    return InvalidArgument("schedule needs steps >= 1 timesteps and steps + 1 sigmas, got " +
                           std::to_string(schedule.timesteps.size()) + " and " +
                           std::to_string(schedule.sigmas.size()));
  }
  for (size_t i = 0; i < schedule.sigmas.size(); ++i) {
    const double s = schedule.sigmas[i];
    if (!std::isfinite(s) || s < 0 || (i + 1 < schedule.sigmas.size() && s == 0)) {
      return InvalidArgument("schedule sigma " + std::to_string(i) + " is " + std::to_string(s) +
                             " (sigmas must be finite, positive, only the last may be 0)");
    }
  }
  return Status::Ok();
}

Status CheckLatent(const at::Tensor& x) {
  if (!x.defined() || !at::isFloatingType(x.scalar_type()) || x.dim() < 1 || x.size(0) < 1) {
    return InvalidArgument("sampler needs a floating-point latent batch [N, C, H, W]");
  }
  return Status::Ok();
}

StatusOr<at::Tensor> RunSteps(SamplerKind sampler, Denoiser& denoiser, const Schedule& schedule,
                              at::Tensor x, NoiseSource& noise, const SamplerOptions& options) {
  const int64_t steps = schedule.steps();
  const int64_t start = options.start_step;
  StepperContext context{denoiser, schedule, noise, options, start};
  std::unique_ptr<Stepper> stepper = MakeStepper(sampler, context);
  for (int64_t i = start; i < steps; ++i) {
    if (options.cancelled && options.cancelled()) return CancelledAtStep(i - start, steps - start);
    StatusOr<at::Tensor> next = stepper->Step(i, x);
    if (!next.ok()) {
      return next.status().WithContext(std::string(SamplerKindName(sampler)) + " step " +
                                       std::to_string(i) + " of " + std::to_string(steps));
    }
    x = std::move(next).value();
    if (options.after_step) {
      StatusOr<at::Tensor> blended = options.after_step(i, x, schedule.sigmas[i + 1]);
      if (!blended.ok()) return blended.status().WithContext("after step " + std::to_string(i));
      x = std::move(blended).value();
    }
    if (options.on_progress) options.on_progress(i - start + 1, steps - start);
  }
  if (schedule.output_scale != 1.0) x = x * schedule.output_scale;
  return x;
}

constexpr char kCancelledPrefix[] = "render cancelled at ";

}  // namespace

Status RenderCancelled(const std::string& where) { return FailedPrecondition(kCancelledPrefix + where); }

Status CancelledAtStep(int64_t done, int64_t total) {
  return RenderCancelled("step " + std::to_string(done) + "/" + std::to_string(total));
}

bool IsRenderCancelled(const Status& status) {
  // Context may be prepended ("stage upscale#1: ...: render cancelled at ...").
  return status.code() == StatusCode::kFailedPrecondition &&
         status.message().find(kCancelledPrefix) != std::string::npos;
}

StatusOr<at::Tensor> Sample(SamplerKind sampler, Denoiser& denoiser, const Schedule& schedule,
                            const at::Tensor& x, NoiseSource& noise, const SamplerOptions& options) {
  FARM_RETURN_IF_ERROR(CheckSchedule(schedule));
  FARM_RETURN_IF_ERROR(CheckLatent(x));
  if (options.start_step < 0 || options.start_step > schedule.steps()) {
    return InvalidArgument("start step " + std::to_string(options.start_step) +
                           " is outside the schedule's " + std::to_string(schedule.steps()) +
                           " steps");
  }
  try {
    return RunSteps(sampler, denoiser, schedule, x, noise, options);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(SamplerKindName(sampler)) + " sampler: " + e.what());
  }
}

StatusOr<at::Tensor> Txt2ImgStartLatent(NoiseSource& noise, at::IntArrayRef shape,
                                        const Schedule& schedule,
                                        const at::TensorOptions& options) {
  FARM_ASSIGN_OR_RETURN(at::Tensor n, noise.Gaussian(shape, options));
  try {
    return n * schedule.init_noise_sigma;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("initial latent: ") + e.what());
  }
}

StatusOr<at::Tensor> Img2ImgStartLatent(NoiseSource& noise, const at::Tensor& init_latent,
                                        const Schedule& schedule, int64_t start_step) {
  FARM_RETURN_IF_ERROR(CheckLatent(init_latent));
  if (start_step < 0 || start_step >= static_cast<int64_t>(schedule.sigmas.size())) {
    return InvalidArgument("img2img start step " + std::to_string(start_step) +
                           " is outside the schedule");
  }
  FARM_ASSIGN_OR_RETURN(at::Tensor n, noise.Gaussian(init_latent.sizes(), init_latent.options()));
  try {
    return init_latent + n * schedule.sigmas[start_step];
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("img2img start latent: ") + e.what());
  }
}

}  // namespace farm::sd
