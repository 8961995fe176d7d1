// Samplers with synthetic models: convergence, determinism, batch independence,
// guidance batch order, callbacks, img2img starts and error values.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <vector>

#include "farm/sd/denoiser.h"
#include "farm/sd/noise.h"
#include "farm/sd/sampler.h"
#include "farm/sd/schedule.h"

namespace farm::sd {
namespace {

const at::TensorOptions kFloat = at::TensorOptions().dtype(at::kFloat);
const std::vector<int64_t> kOneLatent = {1, 4, 8, 8};

// A model whose denoiser output is always `x0`: eps = (x - x0) / sigma.
EpsModel FixedX0Model(at::Tensor x0) {
  return [x0](const at::Tensor& x_in, double sigma, double) -> StatusOr<at::Tensor> {
    at::Tensor x = x_in * std::sqrt(sigma * sigma + 1.0);
    return (x - x0.expand_as(x)) / sigma;
  };
}

// Row-wise and linear, with different outputs for the uncond and cond halves.
EpsModel RowwiseCfgModel() {
  return [](const at::Tensor& x_in, double sigma, double timestep) -> StatusOr<at::Tensor> {
    const int64_t n = x_in.size(0) / 2;
    at::Tensor uncond = x_in.narrow(0, 0, n) * 0.5 + 0.01 * timestep / 1000.0;
    at::Tensor cond = x_in.narrow(0, n, n) * 0.45 - 0.02 * sigma;
    return at::cat({uncond, cond}, 0);
  };
}

StatusOr<at::Tensor> RunSeeded(SamplerSpec spec, uint64_t seed, int64_t batch, int64_t steps,
                               ScheduleSemantics semantics = ScheduleSemantics::kFrontEnd) {
  FARM_ASSIGN_OR_RETURN(Schedule schedule, MakeSchedule(spec, steps, semantics));
  SeededNoise noise(seed, batch);
  FARM_ASSIGN_OR_RETURN(at::Tensor x, Txt2ImgStartLatent(noise, {batch, 4, 8, 8}, schedule, kFloat));
  CfgDenoiser denoiser(RowwiseCfgModel(), 7.0);
  return Sample(spec.sampler, denoiser, schedule, x, noise);
}

const SamplerSpec kAllSpecs[] = {
    {SamplerKind::kEuler, ScheduleKind::kNormal},
    {SamplerKind::kEulerAncestral, ScheduleKind::kNormal},
    {SamplerKind::kDpmpp2M, ScheduleKind::kKarras},
    {SamplerKind::kDpmppSde, ScheduleKind::kKarras},
    {SamplerKind::kDdim, ScheduleKind::kNormal},
};

std::string Name(SamplerSpec spec) { return SamplerSpecName(spec).value(); }

TEST(Samplers, ConvergeToAFixedDenoisedLatent) {
  at::Generator generator = at::detail::createCPUGenerator(3);
  at::Tensor x0 = at::randn(kOneLatent, generator, kFloat);
  for (SamplerSpec spec : kAllSpecs) {
    auto schedule = MakeSchedule(spec, 8);
    ASSERT_TRUE(schedule.ok());
    SeededNoise noise(11, 1);
    auto x = Txt2ImgStartLatent(noise, kOneLatent, *schedule, kFloat);
    ASSERT_TRUE(x.ok());
    EpsDenoiser denoiser(FixedX0Model(x0));
    auto out = Sample(spec.sampler, denoiser, *schedule, *x, noise);
    ASSERT_TRUE(out.ok()) << Name(spec) << ": " << out.status().ToString();
    // DDIM stops at sigma_min (0.029) instead of 0, so some noise remains.
    const double tolerance = spec.sampler == SamplerKind::kDdim ? 0.2 : 1e-4;
    EXPECT_LT((*out - x0).abs().max().item<double>(), tolerance) << Name(spec);
  }
}

TEST(Samplers, Dpmpp2MSecondOrderIsExactForALinearDenoiser) {
  // With D(x, sigma) = x0 the multistep correction vanishes, so every intermediate
  // latent is x0 + sigma * eps_T exactly: check the trajectory stays on that line.
  at::Tensor x0 = at::full(kOneLatent, 0.25, kFloat);
  auto schedule = MakeSchedule({SamplerKind::kDpmpp2M, ScheduleKind::kNormal}, 10);
  ASSERT_TRUE(schedule.ok());
  SeededNoise noise(5, 1);
  at::Tensor eps_t = *noise.Gaussian(kOneLatent, kFloat);
  at::Tensor x = x0 + eps_t * schedule->sigmas[0];
  EpsDenoiser denoiser(FixedX0Model(x0));
  double worst = 0;
  SamplerOptions options;
  options.after_step = [&](int64_t step, const at::Tensor& latent, double sigma) -> StatusOr<at::Tensor> {
    at::Tensor expected = x0 + eps_t * sigma;
    worst = std::max(worst, (latent - expected).abs().max().item<double>());
    (void)step;
    return latent;
  };
  ASSERT_TRUE(Sample(SamplerKind::kDpmpp2M, denoiser, *schedule, x, noise, options).ok());
  EXPECT_LT(worst, 1e-4);
}

TEST(Samplers, SameSeedIsBitIdentical) {
  for (SamplerSpec spec : kAllSpecs) {
    auto a = RunSeeded(spec, 1234, 1, 6);
    auto b = RunSeeded(spec, 1234, 1, 6);
    ASSERT_TRUE(a.ok() && b.ok()) << Name(spec) << ": " << a.status().ToString();
    EXPECT_TRUE(at::equal(*a, *b)) << Name(spec);
  }
  auto c = RunSeeded({SamplerKind::kEulerAncestral, ScheduleKind::kNormal}, 1235, 1, 6);
  auto d = RunSeeded({SamplerKind::kEulerAncestral, ScheduleKind::kNormal}, 1234, 1, 6);
  EXPECT_FALSE(at::equal(*c, *d));
}

TEST(Samplers, BatchOfTwoEqualsTwoSingleRuns) {
  for (SamplerSpec spec : kAllSpecs) {
    auto batch = RunSeeded(spec, 500, 2, 5);
    auto first = RunSeeded(spec, 500, 1, 5);
    auto second = RunSeeded(spec, 501, 1, 5);
    ASSERT_TRUE(batch.ok() && first.ok() && second.ok()) << Name(spec);
    EXPECT_TRUE(at::equal((*batch)[0], (*first)[0])) << Name(spec);
    EXPECT_TRUE(at::equal((*batch)[1], (*second)[0])) << Name(spec);
  }
}

TEST(CfgDenoiser, BatchesUncondFirstAndGuidesEps) {
  const int64_t n = 2;
  at::Tensor x = at::arange(n * 4 * 2 * 2, kFloat).reshape({n, 4, 2, 2}) / 10.0;
  at::Tensor uncond = at::full({n, 4, 2, 2}, 0.5, kFloat), cond = at::full({n, 4, 2, 2}, 0.75, kFloat);
  at::Tensor seen;
  CfgDenoiser denoiser(
      [&](const at::Tensor& x_in, double, double) -> StatusOr<at::Tensor> {
        seen = x_in;
        return at::cat({uncond, cond}, 0);
      },
      3.0);
  const double sigma = 2.0;
  auto denoised = denoiser.Denoise(x, sigma, 500.0);
  ASSERT_TRUE(denoised.ok());
  ASSERT_EQ(seen.size(0), 2 * n);
  at::Tensor x_in = x / std::sqrt(sigma * sigma + 1);
  EXPECT_TRUE(at::allclose(seen.narrow(0, 0, n), x_in));
  EXPECT_TRUE(at::allclose(seen.narrow(0, n, n), x_in));
  at::Tensor eps = uncond + (cond - uncond) * 3.0;
  EXPECT_TRUE(at::allclose(*denoised, x - eps * sigma));
}

TEST(Samplers, ModelErrorsAndBadShapesComeBackAsValues) {
  auto schedule = MakeSchedule({SamplerKind::kEuler, ScheduleKind::kNormal}, 4);
  SeededNoise noise(1, 1);
  at::Tensor x = at::zeros(kOneLatent, kFloat);
  CfgDenoiser wrong_shape([](const at::Tensor& x_in, double, double) -> StatusOr<at::Tensor> {
    return x_in.narrow(0, 0, 1);
  }, 7.0);
  auto out = Sample(SamplerKind::kEuler, wrong_shape, *schedule, x, noise);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("step 0"), std::string::npos) << out.status().ToString();
  EpsDenoiser failing([](const at::Tensor&, double, double) -> StatusOr<at::Tensor> {
    return Unavailable("device lost");
  });
  out = Sample(SamplerKind::kEuler, failing, *schedule, x, noise);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
  EpsDenoiser fine(FixedX0Model(x));
  SamplerOptions options;
  options.start_step = 9;
  EXPECT_FALSE(Sample(SamplerKind::kEuler, fine, *schedule, x, noise, options).ok());
}

TEST(Samplers, ProgressAndAfterStepSeeEveryStepOfAnImg2ImgRun) {
  const int64_t steps = 10;
  auto schedule = MakeSchedule({SamplerKind::kEulerAncestral, ScheduleKind::kNormal}, steps);
  ASSERT_TRUE(schedule.ok());
  const int64_t start = Img2ImgStart(steps, 0.5).value();  // t_enc = 5: steps 4..9
  SeededNoise noise(3, 1);
  at::Tensor init = at::full(kOneLatent, 0.3, kFloat);
  auto x = Img2ImgStartLatent(noise, init, *schedule, start);
  ASSERT_TRUE(x.ok());
  int calls = 0;
  CfgDenoiser denoiser(
      [&](const at::Tensor& x_in, double, double) -> StatusOr<at::Tensor> {
        ++calls;
        return x_in * 0.1;
      },
      5.0);
  std::vector<std::pair<int64_t, int64_t>> progress;
  std::vector<int64_t> hooked;
  SamplerOptions options;
  options.start_step = start;
  options.on_progress = [&](int64_t done, int64_t total) { progress.emplace_back(done, total); };
  options.after_step = [&](int64_t step, const at::Tensor& latent, double sigma) -> StatusOr<at::Tensor> {
    hooked.push_back(step);
    EXPECT_EQ(sigma, schedule->sigmas[step + 1]);
    // Keep channel 0 at the original latent, as an inpaint mask would.
    at::Tensor blended = latent.clone();
    blended.select(1, 0).copy_(init.select(1, 0));
    return blended;
  };
  auto out = Sample(SamplerKind::kEulerAncestral, denoiser, *schedule, *x, noise, options);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(calls, 6);
  ASSERT_EQ(progress.size(), 6u);
  EXPECT_EQ(progress.front(), (std::pair<int64_t, int64_t>(1, 6)));
  EXPECT_EQ(progress.back(), (std::pair<int64_t, int64_t>(6, 6)));
  EXPECT_EQ(hooked, (std::vector<int64_t>{4, 5, 6, 7, 8, 9}));
  EXPECT_TRUE(at::equal(out->select(1, 0), init.select(1, 0)));
}

TEST(Samplers, EulerAncestralDrawsOnTheLastStepOnlyForTheReference) {
  std::vector<at::Tensor> recorded(6, at::zeros(kOneLatent, kFloat));
  at::Tensor x = at::zeros(kOneLatent, kFloat);
  EpsDenoiser denoiser(FixedX0Model(x));
  for (auto [semantics, draws] : {std::pair{ScheduleSemantics::kFrontEnd, 5u},
                                  std::pair{ScheduleSemantics::kDiffusersReference, 6u}}) {
    auto schedule = MakeSchedule({SamplerKind::kEulerAncestral, ScheduleKind::kNormal}, 6, semantics);
    ASSERT_TRUE(schedule.ok());
    RecordedNoise noise(recorded);
    ASSERT_TRUE(Sample(SamplerKind::kEulerAncestral, denoiser, *schedule, x + 1.0, noise).ok());
    EXPECT_EQ(noise.used(), draws);
  }
}

TEST(Samplers, DpmppSdeCallsTheModelTwicePerStepAtTheMidpointTimestep) {
  auto schedule = MakeSchedule({SamplerKind::kDpmppSde, ScheduleKind::kKarras}, 4);
  ASSERT_TRUE(schedule.ok());
  std::vector<std::pair<double, double>> calls;  // (sigma, timestep)
  CfgDenoiser denoiser(
      [&](const at::Tensor& x_in, double sigma, double timestep) -> StatusOr<at::Tensor> {
        calls.emplace_back(sigma, timestep);
        return x_in * 0.2;
      },
      7.0);
  SeededNoise noise(8, 1);
  at::Tensor x = *Txt2ImgStartLatent(noise, kOneLatent, *schedule, kFloat);
  ASSERT_TRUE(Sample(SamplerKind::kDpmppSde, denoiser, *schedule, x, noise).ok());
  ASSERT_EQ(calls.size(), 7u);  // 2 per step, 1 for the final step to sigma 0
  const double mid = std::sqrt(schedule->sigmas[0] * schedule->sigmas[1]);
  EXPECT_NEAR(calls[1].first, mid, 1e-9);
  EXPECT_NEAR(calls[1].second, schedule->TimestepForSigma(mid), 1e-9);
  EXPECT_EQ(calls[2].second, schedule->timesteps[1]);
}

// A cancel raised while step k is reported stops every sampler before step k + 1: the
// model is not called again, and the status names the step reached.
TEST(Samplers, CancelRaisedInTheProgressCallbackStopsBeforeTheNextStep) {
  constexpr int64_t kSteps = 6, kCancelAt = 2;
  for (SamplerSpec spec : kAllSpecs) {
    for (int64_t start : {int64_t{0}, int64_t{2}}) {  // txt2img and an img2img start
      auto schedule = MakeSchedule(spec, kSteps);
      ASSERT_TRUE(schedule.ok());
      int model_calls = 0, calls_at_cancel = -1;
      int64_t last_progress = 0;
      bool cancel = false;
      CfgDenoiser denoiser(
          [&](const at::Tensor& x_in, double, double) -> StatusOr<at::Tensor> {
            ++model_calls;
            return x_in * 0.2;
          },
          7.0);
      SeededNoise noise(8, 1);
      at::Tensor x = *Txt2ImgStartLatent(noise, kOneLatent, *schedule, kFloat);
      SamplerOptions options;
      options.start_step = start;
      options.on_progress = [&](int64_t done, int64_t) {
        last_progress = done;
        if (done == kCancelAt) {
          cancel = true;
          calls_at_cancel = model_calls;
        }
      };
      options.cancelled = [&] { return cancel; };
      auto out = Sample(spec.sampler, denoiser, *schedule, x, noise, options);
      ASSERT_FALSE(out.ok()) << Name(spec);
      EXPECT_TRUE(IsRenderCancelled(out.status())) << Name(spec) << ": " << out.status().ToString();
      const std::string expected = "step " + std::to_string(kCancelAt) + "/" + std::to_string(kSteps - start);
      EXPECT_NE(out.status().message().find(expected), std::string::npos)
          << Name(spec) << ": " << out.status().ToString();
      EXPECT_EQ(last_progress, kCancelAt) << Name(spec);
      EXPECT_EQ(model_calls, calls_at_cancel) << Name(spec) << " called the model after the cancel";
      EXPECT_GT(model_calls, 0) << Name(spec);
    }
  }
}

TEST(Samplers, ACheckThatNeverCancelsChangesNothing) {
  for (SamplerSpec spec : kAllSpecs) {
    auto schedule = MakeSchedule(spec, 5);
    ASSERT_TRUE(schedule.ok());
    auto run = [&](CancelledCheck cancelled) {
      SeededNoise noise(21, 2);
      at::Tensor x = *Txt2ImgStartLatent(noise, {2, 4, 8, 8}, *schedule, kFloat);
      CfgDenoiser denoiser(RowwiseCfgModel(), 7.0);
      SamplerOptions options;
      options.cancelled = std::move(cancelled);
      return Sample(spec.sampler, denoiser, *schedule, x, noise, options);
    };
    auto plain = run(nullptr);
    auto polled = run([] { return false; });
    ASSERT_TRUE(plain.ok() && polled.ok()) << Name(spec);
    EXPECT_TRUE(at::equal(*plain, *polled)) << Name(spec);
  }
  EXPECT_FALSE(IsRenderCancelled(FailedPrecondition("database too new")));
  EXPECT_FALSE(IsRenderCancelled(InvalidArgument("render cancelled at step 1/2")));
  EXPECT_TRUE(IsRenderCancelled(CancelledAtStep(1, 2).WithContext("stage upscale#1")));
}

}  // namespace
}  // namespace farm::sd
