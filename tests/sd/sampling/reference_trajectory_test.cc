// Parity with the recorded diffusers v0.25.1 runs in tiny_io.safetensors: schedules,
// and whole trajectories replayed with the recorded UNet outputs (README sections 2-3).
//
// The replay model checks what the sampler feeds the UNet against
// `<run>_step{i}_unet_input` and answers with the recorded [eps_uncond; eps_cond], so
// every latent the sampler produces can be compared with the recorded one. The
// DPM-Solver run keeps VP-scaled latents (x_vp = x / sqrt(sigma^2 + 1)); they are
// converted to this engine's scaling before comparing.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "farm/sd/denoiser.h"
#include "farm/sd/json.h"
#include "farm/sd/noise.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/sampler.h"
#include "farm/sd/schedule.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

const TensorMap& Io(const std::string& dir) {
  static const TensorMap* io = [&] {
    auto read = ReadSafetensors(dir + "/tiny_io.safetensors");
    if (!read.ok()) ADD_FAILURE() << read.status().ToString();
    return new TensorMap(read.ok() ? std::move(read).value() : TensorMap{});
  }();
  return *io;
}

at::Tensor Get(const TensorMap& io, const std::string& name) {
  auto it = io.find(name);
  if (it == io.end()) {
    ADD_FAILURE() << "tiny_io.safetensors has no tensor " << name;
    return at::Tensor();
  }
  return it->second;
}

double GuidanceScale(const std::string& dir) {
  std::ifstream in(dir + "/tiny_config.json");
  std::stringstream text;
  text << in.rdbuf();
  auto config = Json::Parse(text.str());
  if (config.ok()) {
    const Json* txt2img = config->Find("txt2img");
    const Json* scale = txt2img ? txt2img->Find("guidance_scale") : nullptr;
    if (scale && scale->is_number()) return scale->number();
  }
  ADD_FAILURE() << "tiny_config.json has no txt2img.guidance_scale";
  return 7.0;
}

// README tolerance for sampler latents: rtol 1e-4 + atol 1e-3, or max|a-b| <= 1e-4 max|ref|.
struct Comparison {
  double max_abs = 0;
  double max_ref = 0;
  bool ok = true;
};
Comparison CompareLatent(const at::Tensor& actual, const at::Tensor& expected) {
  Comparison c;
  if (!actual.defined() || !expected.defined() || actual.sizes() != expected.sizes()) {
    c.ok = false;
    return c;
  }
  at::Tensor a = actual.to(at::kDouble), e = expected.to(at::kDouble);
  c.max_abs = (a - e).abs().max().item<double>();
  c.max_ref = e.abs().max().item<double>();
  c.ok = at::allclose(a, e, 1e-4, 1e-3) || c.max_abs <= 1e-4 * c.max_ref;
  return c;
}

// One recorded run: its tensor prefix, sampler and whether its latents are VP-scaled.
struct RecordedRun {
  const char* prefix;
  SamplerSpec spec;
  bool vp_latents;
};
const RecordedRun kRuns[] = {
    {"euler", {SamplerKind::kEuler, ScheduleKind::kNormal}, false},
    {"euler_a", {SamplerKind::kEulerAncestral, ScheduleKind::kNormal}, false},
    {"dpmpp_2m_karras", {SamplerKind::kDpmpp2M, ScheduleKind::kKarras}, true},
};

std::string Step(const RecordedRun& run, int64_t i, const char* what) {
  return std::string(run.prefix) + "_step" + std::to_string(i) + "_" + what;
}

TEST(ReferenceSchedules, MatchTheRecordedSigmasAndTimesteps) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  const TensorMap& io = Io(dir);
  for (const RecordedRun& run : kRuns) {
    SCOPED_TRACE(run.prefix);
    at::Tensor sigmas = Get(io, std::string(run.prefix) + "_sigmas").to(at::kDouble);
    at::Tensor timesteps = Get(io, std::string(run.prefix) + "_timesteps").to(at::kDouble);
    ASSERT_TRUE(sigmas.defined() && timesteps.defined());
    const int64_t steps = timesteps.numel();
    auto schedule = MakeSchedule(run.spec, steps, ScheduleSemantics::kDiffusersReference);
    ASSERT_TRUE(schedule.ok()) << schedule.status().ToString();
    ASSERT_EQ(schedule->steps(), steps);
    ASSERT_EQ(static_cast<int64_t>(schedule->sigmas.size()), sigmas.numel());
    double sigma_err = 0, t_err = 0;
    for (int64_t i = 0; i < sigmas.numel(); ++i) {
      sigma_err = std::max(sigma_err, std::abs(schedule->sigmas[i] - sigmas[i].item<double>()));
    }
    for (int64_t i = 0; i < steps; ++i) {
      const double expected = timesteps[i].item<double>();
      t_err = std::max(t_err, std::abs(schedule->timesteps[i] - expected));
      if (run.vp_latents) {
        EXPECT_EQ(schedule->timesteps[i], expected) << "integer timestep " << i;
      }
    }
    std::printf("[%s] schedule: max |sigma err| %.3g, max |t err| %.3g\n", run.prefix, sigma_err, t_err);
    EXPECT_LE(sigma_err, 1e-5);
    EXPECT_LE(t_err, 1e-5);
    // The recorded init_noise_sigma is in the run's own scaling.
    const double init = Get(io, std::string(run.prefix) + "_init_noise_sigma").item<double>();
    const double s0 = schedule->sigmas[0];
    const double expected_init = run.vp_latents ? init * std::sqrt(s0 * s0 + 1) : init;
    EXPECT_NEAR(schedule->init_noise_sigma, expected_init, 1e-5);
  }
}

// Passes the guided model output through and keeps each step's x0 estimate.
class RecordingDenoiser : public Denoiser {
 public:
  explicit RecordingDenoiser(Denoiser& inner) : inner_(inner) {}
  StatusOr<at::Tensor> Denoise(const at::Tensor& x, double sigma, double timestep) override {
    FARM_ASSIGN_OR_RETURN(at::Tensor d, inner_.Denoise(x, sigma, timestep));
    denoised.push_back(d);
    return d;
  }
  std::vector<at::Tensor> denoised;

 private:
  Denoiser& inner_;
};

void ReplayRun(const RecordedRun& run, const std::string& dir) {
  const TensorMap& io = Io(dir);
  const std::string p = run.prefix;
  at::Tensor ref_timesteps = Get(io, p + "_timesteps").to(at::kDouble);
  ASSERT_TRUE(ref_timesteps.defined());
  const int64_t steps = ref_timesteps.numel();
  auto schedule = MakeSchedule(run.spec, steps, ScheduleSemantics::kDiffusersReference);
  ASSERT_TRUE(schedule.ok()) << schedule.status().ToString();
  auto vp_to_ve = [&](const at::Tensor& latent, double sigma) {
    return run.vp_latents ? latent * std::sqrt(sigma * sigma + 1.0) : latent;
  };

  // Initial noise first, then (Euler a) the noise of each step, as recorded.
  std::vector<at::Tensor> draws = {Get(io, "txt2img_noise")};
  if (run.spec.sampler == SamplerKind::kEulerAncestral) {
    for (int64_t i = 0; i < steps; ++i) draws.push_back(Get(io, Step(run, i, "noise")));
  }
  RecordedNoise noise(draws);
  at::Tensor ref_latent0 = Get(io, p + "_latent_0");
  auto x = Txt2ImgStartLatent(noise, ref_latent0.sizes(), *schedule, at::TensorOptions().dtype(at::kFloat));
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  Comparison start = CompareLatent(*x, vp_to_ve(ref_latent0, schedule->sigmas[0]));
  EXPECT_TRUE(start.ok) << "x_T differs by " << start.max_abs;

  int64_t call = 0;
  double input_err = 0, input_ref = 0;
  EpsModel replay = [&](const at::Tensor& x_in, double, double timestep) -> StatusOr<at::Tensor> {
    const int64_t i = call++;
    if (i >= steps) return Internal("model called more often than the recorded run");
    Comparison c = CompareLatent(x_in, Get(io, Step(run, i, "unet_input")));
    EXPECT_TRUE(c.ok) << "UNet input of step " << i << " differs by " << c.max_abs;
    input_err = std::max(input_err, c.max_abs);
    input_ref = std::max(input_ref, c.max_ref);
    EXPECT_NEAR(timestep, ref_timesteps[i].item<double>(), 1e-5) << "timestep of step " << i;
    return at::cat({Get(io, Step(run, i, "eps_uncond")), Get(io, Step(run, i, "eps_cond"))}, 0);
  };
  CfgDenoiser cfg(replay, GuidanceScale(dir));
  RecordingDenoiser denoiser(cfg);

  double step_err = 0, step_ref = 0;
  SamplerOptions options;
  options.after_step = [&](int64_t i, const at::Tensor& latent, double sigma) -> StatusOr<at::Tensor> {
    Comparison c = CompareLatent(latent, vp_to_ve(Get(io, Step(run, i, "latent")), sigma));
    EXPECT_TRUE(c.ok) << "latent after step " << i << " differs by " << c.max_abs << " (max |ref| "
                      << c.max_ref << ")";
    step_err = std::max(step_err, c.max_abs);
    step_ref = std::max(step_ref, c.max_ref);
    return latent;
  };
  auto out = Sample(run.spec.sampler, denoiser, *schedule, *x, noise, options);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(call, steps);
  EXPECT_EQ(noise.used(), draws.size());

  double x0_err = 0;
  if (run.vp_latents) {  // the DPM-Solver run recorded its data predictions
    ASSERT_EQ(static_cast<int64_t>(denoiser.denoised.size()), steps);
    for (int64_t i = 0; i < steps; ++i) {
      Comparison c = CompareLatent(denoiser.denoised[i], Get(io, Step(run, i, "x0")));
      EXPECT_TRUE(c.ok) << "x0 of step " << i << " differs by " << c.max_abs;
      x0_err = std::max(x0_err, c.max_abs);
    }
  }
  Comparison final_latent = CompareLatent(*out, Get(io, p + "_final_latent"));
  EXPECT_TRUE(final_latent.ok) << "final latent differs by " << final_latent.max_abs;
  std::printf(
      "[%s] max |err|: unet input %.3g (max |ref| %.3g), step latents %.3g (max |ref| %.3g), "
      "x0 %.3g, final latent %.3g (max |ref| %.3g)\n",
      run.prefix, input_err, input_ref, step_err, step_ref, x0_err, final_latent.max_abs,
      final_latent.max_ref);
}

TEST(ReferenceTrajectories, Euler) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  ReplayRun(kRuns[0], dir);
}

TEST(ReferenceTrajectories, EulerAncestralWithRecordedNoise) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  ReplayRun(kRuns[1], dir);
}

TEST(ReferenceTrajectories, Dpmpp2MKarras) {
  FARM_SD_REQUIRE_REFERENCE(dir);
  ReplayRun(kRuns[2], dir);
}

}  // namespace
}  // namespace farm::sd
