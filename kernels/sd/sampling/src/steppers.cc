#include "steppers.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace farm::sd {
namespace {

// x + (x - denoised) / sigma * (sigma_to - sigma): one Euler step of dx/dsigma.
at::Tensor EulerMove(const at::Tensor& x, const at::Tensor& denoised, double sigma, double sigma_to) {
  at::Tensor derivative = (x - denoised) / sigma;
  return x + derivative * (sigma_to - sigma);
}

class EulerStepper : public Stepper {  // also DDIM (eta 0) on the DDIM schedule
 public:
  explicit EulerStepper(const StepperContext& c) : c_(c) {}
  StatusOr<at::Tensor> Step(int64_t i, const at::Tensor& x) override {
    const double sigma = c_.schedule.sigmas[i], sigma_to = c_.schedule.sigmas[i + 1];
    FARM_ASSIGN_OR_RETURN(at::Tensor denoised, c_.denoiser.Denoise(x, sigma, c_.schedule.timesteps[i]));
    return EulerMove(x, denoised, sigma, sigma_to);
  }

 private:
  StepperContext c_;
};

class EulerAncestralStepper : public Stepper {
 public:
  explicit EulerAncestralStepper(const StepperContext& c) : c_(c) {}
  StatusOr<at::Tensor> Step(int64_t i, const at::Tensor& x) override {
    const double sigma = c_.schedule.sigmas[i], sigma_to = c_.schedule.sigmas[i + 1];
    FARM_ASSIGN_OR_RETURN(at::Tensor denoised, c_.denoiser.Denoise(x, sigma, c_.schedule.timesteps[i]));
    const AncestralStep step = GetAncestralStep(sigma, sigma_to, c_.options.eta);
    at::Tensor next = EulerMove(x, denoised, sigma, step.sigma_down);
    // diffusers draws on every step (the last with sigma_up = 0); k-diffusion skips it.
    const bool draw = sigma_to > 0 || c_.schedule.semantics == ScheduleSemantics::kDiffusersReference;
    if (!draw) return next;
    FARM_ASSIGN_OR_RETURN(at::Tensor noise, c_.noise.Gaussian(x.sizes(), x.options()));
    return next + noise * (c_.options.s_noise * step.sigma_up);
  }

 private:
  StepperContext c_;
};

class Dpmpp2MStepper : public Stepper {
 public:
  explicit Dpmpp2MStepper(const StepperContext& c) : c_(c) {}
  StatusOr<at::Tensor> Step(int64_t i, const at::Tensor& x) override {
    const Schedule& s = c_.schedule;
    const double sigma = s.sigmas[i], sigma_to = s.sigmas[i + 1];
    FARM_ASSIGN_OR_RETURN(at::Tensor denoised, c_.denoiser.Denoise(x, sigma, s.timesteps[i]));
    at::Tensor previous = old_denoised_;
    old_denoised_ = denoised;
    if (sigma_to == 0) return denoised;  // the limit of the update for sigma_to -> 0
    if (sigma_to == sigma) return x;     // h = 0 (diffusers' repeated final sigma)
    const double h = std::log(sigma) - std::log(sigma_to);  // lambda_to - lambda, lambda = -log sigma
    bool first_order = !previous.defined();
    if (s.semantics == ScheduleSemantics::kDiffusersReference) {
      first_order = first_order || (i == s.steps() - 1 && s.steps() < 15);  // lower_order_final
    }
    at::Tensor target = denoised;
    if (!first_order) {
      const double h_last = std::log(s.sigmas[i - 1]) - std::log(sigma);
      const double half_inv_r = h / (2.0 * h_last);  // 1 / (2r), r = h_last / h
      target = denoised * (1.0 + half_inv_r) - previous * half_inv_r;
    }
    return x * (sigma_to / sigma) - target * std::expm1(-h);
  }

 private:
  StepperContext c_;
  at::Tensor old_denoised_;
};

// k-diffusion's sample_dpmpp_sde with r = 1/2: a noisy half step to the midpoint
// (geometric mean of the sigmas), a second model call there, then the full step.
class DpmppSdeStepper : public Stepper {
 public:
  explicit DpmppSdeStepper(const StepperContext& c) : c_(c) {
    const auto& sigmas = c.schedule.sigmas;
    sigma_min_ = 0;
    sigma_max_ = 0;
    for (size_t k = static_cast<size_t>(c.start_step); k < sigmas.size(); ++k) {
      sigma_max_ = std::max(sigma_max_, sigmas[k]);
      if (sigmas[k] > 0 && (sigma_min_ == 0 || sigmas[k] < sigma_min_)) sigma_min_ = sigmas[k];
    }
  }

  StatusOr<at::Tensor> Step(int64_t i, const at::Tensor& x) override {
    const Schedule& s = c_.schedule;
    const double sigma = s.sigmas[i], sigma_to = s.sigmas[i + 1];
    if (sigma_to == sigma) return x;
    FARM_ASSIGN_OR_RETURN(at::Tensor denoised, c_.denoiser.Denoise(x, sigma, s.timesteps[i]));
    if (sigma_to == 0) return EulerMove(x, denoised, sigma, sigma_to);

    const double sigma_mid = std::exp(0.5 * (std::log(sigma) + std::log(sigma_to)));
    const AncestralStep half = GetAncestralStep(sigma, sigma_mid, c_.options.eta);
    at::Tensor x_mid = ExpIntegratorMove(x, denoised, sigma, half.sigma_down);
    FARM_ASSIGN_OR_RETURN(at::Tensor noise_mid, Brownian(x, sigma, sigma_mid));
    x_mid = x_mid + noise_mid * (c_.options.s_noise * half.sigma_up);
    FARM_ASSIGN_OR_RETURN(at::Tensor denoised_mid,
                          c_.denoiser.Denoise(x_mid, sigma_mid, s.TimestepForSigma(sigma_mid)));

    // With r = 1/2 the combined estimate (1 - 1/(2r)) D + 1/(2r) D_mid is D_mid.
    const AncestralStep full = GetAncestralStep(sigma, sigma_to, c_.options.eta);
    at::Tensor next = ExpIntegratorMove(x, denoised_mid, sigma, full.sigma_down);
    FARM_ASSIGN_OR_RETURN(at::Tensor noise, Brownian(x, sigma, sigma_to));
    return next + noise * (c_.options.s_noise * full.sigma_up);
  }

 private:
  // First-order DPM-Solver++ move from sigma to sigma_to with data estimate `denoised`:
  // (sigma_to / sigma) x - expm1(log(sigma_to / sigma)) denoised.
  static at::Tensor ExpIntegratorMove(const at::Tensor& x, const at::Tensor& denoised, double sigma,
                                      double sigma_to) {
    const double ratio = sigma_to / sigma;
    const double ratio_minus_one = sigma_to > 0 ? std::expm1(std::log(sigma_to) - std::log(sigma)) : -1.0;
    return x * ratio - denoised * ratio_minus_one;
  }

  StatusOr<at::Tensor> Brownian(const at::Tensor& x, double from, double to) {
    return c_.noise.BrownianIncrement(x.sizes(), x.options(), from, to, sigma_min_, sigma_max_);
  }

  StepperContext c_;
  double sigma_min_, sigma_max_;
};

}  // namespace

AncestralStep GetAncestralStep(double sigma_from, double sigma_to, double eta) {
  if (eta == 0 || sigma_to <= 0) return {sigma_to, 0.0};
  const double variance = sigma_to * sigma_to * (sigma_from * sigma_from - sigma_to * sigma_to) /
                          (sigma_from * sigma_from);
  const double sigma_up = std::min(sigma_to, eta * std::sqrt(std::max(variance, 0.0)));
  const double sigma_down = std::sqrt(std::max(sigma_to * sigma_to - sigma_up * sigma_up, 0.0));
  return {sigma_down, sigma_up};
}

std::unique_ptr<Stepper> MakeStepper(SamplerKind sampler, const StepperContext& context) {
  switch (sampler) {
    case SamplerKind::kEulerAncestral:
      return std::make_unique<EulerAncestralStepper>(context);
    case SamplerKind::kDpmpp2M:
      return std::make_unique<Dpmpp2MStepper>(context);
    case SamplerKind::kDpmppSde:
      return std::make_unique<DpmppSdeStepper>(context);
    case SamplerKind::kEuler:
    case SamplerKind::kDdim:
      break;
  }
  return std::make_unique<EulerStepper>(context);
}

}  // namespace farm::sd
