// The noise schedule a model was trained with: the 1000 discrete training sigmas
// and the maps between a (fractional) training timestep t and a noise level sigma.
//
// SD 1.5 uses "scaled linear" betas. They are computed in float32 exactly as the
// reference implementations do (betas = linspace(sqrt(b0), sqrt(b1), n)^2, cumulative
// product of 1 - beta, sigma = sqrt((1 - ac) / ac)), so schedules built on top match the
// recorded ones to float32 rounding; interpolation then runs in double on those float32
// values, as numpy does.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sd {

class TrainingSchedule {
 public:
  // betas = linspace(sqrt(beta_start), sqrt(beta_end), num_steps)^2 in float32.
  static StatusOr<TrainingSchedule> ScaledLinear(double beta_start, double beta_end,
                                                 int64_t num_steps);

  int64_t size() const;
  // Index t = 0 .. size()-1; sigmas increase with t.
  const std::vector<float>& alphas_cumprod() const { return alphas_cumprod_; }
  const std::vector<float>& sigmas() const { return sigmas_; }
  const std::vector<float>& log_sigmas() const { return log_sigmas_; }
  double sigma_min() const;  // sigmas()[0]
  double sigma_max() const;  // sigmas().back()

  // Fractional timestep of a sigma: linear interpolation of log sigma between the two
  // training sigmas that bracket it, clamped to [0, size()-1] (k-diffusion's
  // DiscreteSchedule.sigma_to_t, diffusers' _sigma_to_t).
  double SigmaToT(double sigma) const;
  // Inverse of SigmaToT: log sigma interpolated linearly in t (k-diffusion t_to_sigma).
  double TToSigma(double t) const;
  // Sigma interpolated linearly (not in log space) at a fractional t, as diffusers'
  // Euler schedulers do with np.interp.
  double LinearSigmaAt(double t) const;

 private:
  std::vector<float> alphas_cumprod_;
  std::vector<float> sigmas_;
  std::vector<float> log_sigmas_;
};

// SD 1.5: scaled linear betas 0.00085 .. 0.012 over 1000 steps. Built once.
std::shared_ptr<const TrainingSchedule> Sd15TrainingSchedule();

}  // namespace farm::sd
