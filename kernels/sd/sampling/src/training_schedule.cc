#include "farm/sd/training_schedule.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace farm::sd {
namespace {

std::vector<float> ToVector(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  const float* p = c.data_ptr<float>();
  return std::vector<float>(p, p + c.numel());
}

}  // namespace

StatusOr<TrainingSchedule> TrainingSchedule::ScaledLinear(double beta_start, double beta_end,
                                                          int64_t num_steps) {
  if (num_steps < 2) {
    return InvalidArgument("training schedule needs at least 2 steps, got " +
                           std::to_string(num_steps));
  }
  if (!(beta_start > 0 && beta_end > beta_start && beta_end < 1)) {
    return InvalidArgument("scaled linear betas need 0 < beta_start < beta_end < 1, got " +
                           std::to_string(beta_start) + " .. " + std::to_string(beta_end));
  }
  try {
    // float32 throughout, in the reference's order of operations.
    at::Tensor betas = at::linspace(std::sqrt(beta_start), std::sqrt(beta_end), num_steps,
                                    at::TensorOptions().dtype(at::kFloat))
                           .pow(2);
    at::Tensor alphas_cumprod = at::cumprod(1.0 - betas, 0);
    at::Tensor sigmas = ((1.0 - alphas_cumprod) / alphas_cumprod).sqrt();
    TrainingSchedule schedule;
    schedule.alphas_cumprod_ = ToVector(alphas_cumprod);
    schedule.sigmas_ = ToVector(sigmas);
    schedule.log_sigmas_ = ToVector(sigmas.log());
    return schedule;
  } catch (const std::exception& e) {
    return Internal(std::string("building the training schedule: ") + e.what());
  }
}

int64_t TrainingSchedule::size() const { return static_cast<int64_t>(sigmas_.size()); }
double TrainingSchedule::sigma_min() const { return sigmas_.front(); }
double TrainingSchedule::sigma_max() const { return sigmas_.back(); }

double TrainingSchedule::SigmaToT(double sigma) const {
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  const int64_t n = size();
  // low = last index whose log sigma is <= log_sigma (0 when none), at most n - 2.
  int64_t below = 0;
  while (below < n && static_cast<double>(log_sigmas_[below]) <= log_sigma) ++below;
  const int64_t low = std::min<int64_t>(std::max<int64_t>(below - 1, 0), n - 2);
  const double lo = log_sigmas_[low], hi = log_sigmas_[low + 1];
  const double w = std::clamp((lo - log_sigma) / (lo - hi), 0.0, 1.0);
  return (1.0 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

double TrainingSchedule::TToSigma(double t) const {
  t = std::clamp(t, 0.0, static_cast<double>(size() - 1));
  const int64_t low = static_cast<int64_t>(std::floor(t));
  const int64_t high = static_cast<int64_t>(std::ceil(t));
  const double w = t - static_cast<double>(low);
  return std::exp((1.0 - w) * log_sigmas_[low] + w * log_sigmas_[high]);
}

double TrainingSchedule::LinearSigmaAt(double t) const {
  t = std::clamp(t, 0.0, static_cast<double>(size() - 1));
  if (t == static_cast<double>(size() - 1)) return sigmas_.back();  // np.interp's end point
  const int64_t low = std::min<int64_t>(static_cast<int64_t>(std::floor(t)), size() - 2);
  const double w = t - static_cast<double>(low);
  const double lo = sigmas_[low], hi = sigmas_[low + 1];
  return lo + w * (hi - lo);
}

std::shared_ptr<const TrainingSchedule> Sd15TrainingSchedule() {
  static const std::shared_ptr<const TrainingSchedule> kSd15 = [] {
    StatusOr<TrainingSchedule> schedule = TrainingSchedule::ScaledLinear(0.00085, 0.012, 1000);
    return std::make_shared<const TrainingSchedule>(std::move(schedule).value());
  }();
  return kSd15;
}

}  // namespace farm::sd
