#include "farm/sd/schedule.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

namespace farm::sd {
namespace {

constexpr int64_t kMaxSteps = 100000;

Status CheckSteps(int64_t steps) {
  if (steps < 1 || steps > kMaxSteps) {
    return InvalidArgument("sampling steps must be in 1.." + std::to_string(kMaxSteps) + ", got " +
                           std::to_string(steps));
  }
  return Status::Ok();
}

std::shared_ptr<const TrainingSchedule> OrSd15(std::shared_ptr<const TrainingSchedule> training) {
  return training ? std::move(training) : Sd15TrainingSchedule();
}

// The reference stores schedules as float32 tensors.
double F32(double v) { return static_cast<double>(static_cast<float>(v)); }

// numpy.linspace(start, stop, n): start + i * step, the last value exactly stop.
std::vector<double> Linspace(double start, double stop, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  if (n == 1) {
    out[0] = start;
    return out;
  }
  const double step = (stop - start) / static_cast<double>(n - 1);
  for (int64_t i = 0; i < n; ++i) out[i] = start + static_cast<double>(i) * step;
  out[n - 1] = stop;
  return out;
}

Schedule Empty(std::shared_ptr<const TrainingSchedule> training, ScheduleSemantics semantics) {
  Schedule schedule;
  schedule.training = std::move(training);
  schedule.semantics = semantics;
  return schedule;
}

// k-diffusion feeds the UNet the fractional t of each sigma.
void FillFractionalTimesteps(Schedule& schedule) {
  schedule.timesteps.clear();
  for (size_t i = 0; i + 1 < schedule.sigmas.size(); ++i) {
    schedule.timesteps.push_back(schedule.training->SigmaToT(schedule.sigmas[i]));
  }
}

}  // namespace

int64_t Schedule::steps() const { return static_cast<int64_t>(timesteps.size()); }

double Schedule::TimestepForSigma(double sigma) const {
  return (training ? training : Sd15TrainingSchedule())->SigmaToT(sigma);
}

std::vector<double> KarrasSigmas(int64_t n, double sigma_min, double sigma_max, double rho) {
  const double min_inv_rho = std::pow(sigma_min, 1.0 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1.0 / rho);
  std::vector<double> sigmas;
  for (double ramp : Linspace(0.0, 1.0, n)) {
    sigmas.push_back(std::pow(max_inv_rho + ramp * (min_inv_rho - max_inv_rho), rho));
  }
  return sigmas;
}

StatusOr<Schedule> FrontEndNormalSchedule(std::shared_ptr<const TrainingSchedule> training,
                                          int64_t steps) {
  FARM_RETURN_IF_ERROR(CheckSteps(steps));
  Schedule schedule = Empty(OrSd15(std::move(training)), ScheduleSemantics::kFrontEnd);
  const double t_max = static_cast<double>(schedule.training->size() - 1);
  for (double t : Linspace(t_max, 0.0, steps)) schedule.sigmas.push_back(schedule.training->TToSigma(t));
  schedule.sigmas.push_back(0.0);
  FillFractionalTimesteps(schedule);
  schedule.init_noise_sigma = schedule.sigmas.front();
  return schedule;
}

StatusOr<Schedule> FrontEndKarrasSchedule(std::shared_ptr<const TrainingSchedule> training,
                                          int64_t steps) {
  FARM_RETURN_IF_ERROR(CheckSteps(steps));
  Schedule schedule = Empty(OrSd15(std::move(training)), ScheduleSemantics::kFrontEnd);
  schedule.sigmas = KarrasSigmas(steps, schedule.training->sigma_min(), schedule.training->sigma_max());
  schedule.sigmas.push_back(0.0);
  FillFractionalTimesteps(schedule);
  schedule.init_noise_sigma = schedule.sigmas.front();
  return schedule;
}

StatusOr<Schedule> DdimSchedule(std::shared_ptr<const TrainingSchedule> training, int64_t steps) {
  FARM_RETURN_IF_ERROR(CheckSteps(steps));
  Schedule schedule = Empty(OrSd15(std::move(training)), ScheduleSemantics::kFrontEnd);
  const TrainingSchedule& train = *schedule.training;
  if (steps > train.size()) {
    return InvalidArgument("DDIM takes at most " + std::to_string(train.size()) + " steps, got " +
                           std::to_string(steps));
  }
  const int64_t stride = train.size() / steps;
  for (int64_t k = steps - 1; k >= 0; --k) {
    const int64_t t = std::min<int64_t>(k * stride + 1, train.size() - 1);
    schedule.timesteps.push_back(static_cast<double>(t));
    schedule.sigmas.push_back(train.sigmas()[t]);
  }
  schedule.sigmas.push_back(train.sigmas()[0]);  // alphas_cumprod[0], the final "alpha prev"
  schedule.init_noise_sigma = std::sqrt(schedule.sigmas.front() * schedule.sigmas.front() + 1.0);
  schedule.output_scale = 1.0 / std::sqrt(schedule.sigmas.back() * schedule.sigmas.back() + 1.0);
  return schedule;
}

StatusOr<Schedule> DiffusersEulerSchedule(std::shared_ptr<const TrainingSchedule> training,
                                          int64_t steps, bool karras) {
  FARM_RETURN_IF_ERROR(CheckSteps(steps));
  Schedule schedule = Empty(OrSd15(std::move(training)), ScheduleSemantics::kDiffusersReference);
  const TrainingSchedule& train = *schedule.training;
  std::vector<double> timesteps = Linspace(0.0, static_cast<double>(train.size() - 1), steps);
  std::reverse(timesteps.begin(), timesteps.end());
  std::vector<double> sigmas;
  for (double& t : timesteps) {
    t = F32(t);  // np.linspace(..., dtype=float32)
    sigmas.push_back(train.LinearSigmaAt(t));
  }
  if (karras) {
    sigmas = KarrasSigmas(steps, sigmas.back(), sigmas.front());
    for (size_t i = 0; i < sigmas.size(); ++i) timesteps[i] = F32(train.SigmaToT(sigmas[i]));
  }
  for (double s : sigmas) schedule.sigmas.push_back(F32(s));
  schedule.sigmas.push_back(0.0);
  schedule.timesteps = std::move(timesteps);
  schedule.init_noise_sigma = *std::max_element(schedule.sigmas.begin(), schedule.sigmas.end());
  return schedule;
}

StatusOr<Schedule> DiffusersDpmSolverSchedule(std::shared_ptr<const TrainingSchedule> training,
                                              int64_t steps, bool karras) {
  FARM_RETURN_IF_ERROR(CheckSteps(steps));
  Schedule schedule = Empty(OrSd15(std::move(training)), ScheduleSemantics::kDiffusersReference);
  const TrainingSchedule& train = *schedule.training;
  if (karras) {
    std::vector<double> sigmas = KarrasSigmas(steps, train.sigma_min(), train.sigma_max());
    for (double s : sigmas) {
      schedule.sigmas.push_back(F32(s));
      schedule.timesteps.push_back(std::nearbyint(train.SigmaToT(s)));  // numpy rounds half to even
    }
    schedule.sigmas.push_back(schedule.sigmas.back());  // v0.25.1 repeats sigma_min
  } else {
    std::vector<double> grid = Linspace(0.0, static_cast<double>(train.size() - 1), steps + 1);
    for (int64_t i = steps; i >= 1; --i) {
      const double t = std::nearbyint(grid[i]);
      schedule.timesteps.push_back(t);
      schedule.sigmas.push_back(F32(train.LinearSigmaAt(t)));
    }
    schedule.sigmas.push_back(train.sigmas()[0]);
  }
  // VP-scaled latents start as unit noise: x_T = noise / alpha_0 here.
  schedule.init_noise_sigma = std::sqrt(schedule.sigmas.front() * schedule.sigmas.front() + 1.0);
  schedule.output_scale = 1.0 / std::sqrt(schedule.sigmas.back() * schedule.sigmas.back() + 1.0);
  return schedule;
}

StatusOr<Schedule> MakeSchedule(const SamplerSpec& spec, int64_t steps, ScheduleSemantics semantics,
                                std::shared_ptr<const TrainingSchedule> training) {
  const bool karras = spec.schedule == ScheduleKind::kKarras;
  if (spec.sampler == SamplerKind::kDdim) {
    if (karras) return InvalidArgument("DDIM has its own timesteps and no Karras schedule");
    FARM_ASSIGN_OR_RETURN(Schedule schedule, DdimSchedule(std::move(training), steps));
    schedule.semantics = semantics;
    return schedule;
  }
  if (semantics == ScheduleSemantics::kFrontEnd) {
    return karras ? FrontEndKarrasSchedule(std::move(training), steps)
                  : FrontEndNormalSchedule(std::move(training), steps);
  }
  if (spec.sampler == SamplerKind::kDpmpp2M) {
    return DiffusersDpmSolverSchedule(std::move(training), steps, karras);
  }
  // Euler, Euler a and DPM++ SDE share the Euler scheduler's timesteps in diffusers.
  return DiffusersEulerSchedule(std::move(training), steps, karras);
}

StatusOr<int64_t> Img2ImgStart(int64_t steps, double strength) {
  FARM_RETURN_IF_ERROR(CheckSteps(steps));
  if (!(strength >= 0.0 && strength <= 1.0)) {
    return InvalidArgument("img2img strength must be in [0, 1], got " + std::to_string(strength));
  }
  const int64_t t_enc = static_cast<int64_t>(std::min(strength, 0.999) * static_cast<double>(steps));
  return steps - t_enc - 1;
}

}  // namespace farm::sd
