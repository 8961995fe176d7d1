// Properties of the training schedule, the front-end and reference schedules, the
// sampler names and the img2img start.
#include <gtest/gtest.h>

#include <cmath>

#include "farm/sd/sampler_names.h"
#include "farm/sd/schedule.h"
#include "farm/sd/training_schedule.h"

namespace farm::sd {
namespace {

TEST(TrainingSchedule, Sd15EndpointsMatchTheReadme) {
  auto training = Sd15TrainingSchedule();
  ASSERT_EQ(training->size(), 1000);
  EXPECT_NEAR(training->sigma_min(), 0.029168, 1e-6);
  EXPECT_NEAR(training->sigma_max(), 14.614645, 1e-5);
  for (int64_t t = 1; t < training->size(); ++t) {
    ASSERT_GT(training->sigmas()[t], training->sigmas()[t - 1]) << "t=" << t;
  }
}

TEST(TrainingSchedule, SigmaToTInvertsTToSigma) {
  auto training = Sd15TrainingSchedule();
  for (double t : {0.0, 0.5, 1.0, 37.25, 500.0, 998.75, 999.0}) {
    EXPECT_NEAR(training->SigmaToT(training->TToSigma(t)), t, 1e-6) << "t=" << t;
  }
  EXPECT_EQ(training->SigmaToT(training->sigma_max() * 2), 999.0);  // clamped
  EXPECT_EQ(training->SigmaToT(training->sigma_min() / 2), 0.0);
  EXPECT_EQ(training->SigmaToT(0.0), 0.0);
}

TEST(TrainingSchedule, LinearSigmaInterpolatesBetweenTrainingSigmas) {
  auto training = Sd15TrainingSchedule();
  const double a = training->sigmas()[799], b = training->sigmas()[800];
  EXPECT_NEAR(training->LinearSigmaAt(799.25), a + 0.25 * (b - a), 1e-12);
  EXPECT_EQ(training->LinearSigmaAt(999.0), static_cast<double>(training->sigmas()[999]));
}

TEST(TrainingSchedule, RejectsBadBetas) {
  EXPECT_FALSE(TrainingSchedule::ScaledLinear(0.012, 0.00085, 1000).ok());
  EXPECT_FALSE(TrainingSchedule::ScaledLinear(0.00085, 0.012, 1).ok());
}

TEST(FrontEndSchedule, NormalRunsFromSigmaMaxToZero) {
  auto schedule = FrontEndNormalSchedule(nullptr, 20);
  ASSERT_TRUE(schedule.ok()) << schedule.status().ToString();
  auto training = Sd15TrainingSchedule();
  ASSERT_EQ(schedule->sigmas.size(), 21u);
  ASSERT_EQ(schedule->steps(), 20);
  EXPECT_NEAR(schedule->sigmas.front(), training->sigma_max(), 1e-5);  // exp of a float32 log
  EXPECT_NEAR(schedule->sigmas[19], training->sigma_min(), 1e-7);
  EXPECT_EQ(schedule->sigmas.back(), 0.0);
  EXPECT_NEAR(schedule->timesteps.front(), 999.0, 1e-6);
  EXPECT_NEAR(schedule->timesteps.back(), 0.0, 1e-6);
  // t is spaced linearly: 999 * (1 - i / 19).
  EXPECT_NEAR(schedule->timesteps[5], 999.0 * (1.0 - 5.0 / 19.0), 1e-6);
  EXPECT_EQ(schedule->init_noise_sigma, schedule->sigmas.front());
  for (size_t i = 1; i < schedule->sigmas.size(); ++i) {
    EXPECT_LT(schedule->sigmas[i], schedule->sigmas[i - 1]);
  }
}

TEST(FrontEndSchedule, KarrasHitsTheModelsSigmaRange) {
  auto schedule = FrontEndKarrasSchedule(nullptr, 10);
  ASSERT_TRUE(schedule.ok()) << schedule.status().ToString();
  auto training = Sd15TrainingSchedule();
  ASSERT_EQ(schedule->sigmas.size(), 11u);
  EXPECT_NEAR(schedule->sigmas.front(), training->sigma_max(), 1e-9);
  EXPECT_NEAR(schedule->sigmas[9], training->sigma_min(), 1e-9);
  EXPECT_EQ(schedule->sigmas.back(), 0.0);
  // sigma^(1/7) is spaced evenly.
  const double d0 = std::pow(schedule->sigmas[1], 1 / 7.0) - std::pow(schedule->sigmas[0], 1 / 7.0);
  const double d5 = std::pow(schedule->sigmas[6], 1 / 7.0) - std::pow(schedule->sigmas[5], 1 / 7.0);
  EXPECT_NEAR(d0, d5, 1e-12);
  EXPECT_NEAR(schedule->timesteps.front(), 999.0, 1e-9);
  EXPECT_NEAR(schedule->timesteps[9], 0.0, 1e-9);
}

TEST(DdimSchedule, UniformTimestepsEndingAtAlphasCumprodZero) {
  auto schedule = DdimSchedule(nullptr, 20);
  ASSERT_TRUE(schedule.ok()) << schedule.status().ToString();
  auto training = Sd15TrainingSchedule();
  ASSERT_EQ(schedule->steps(), 20);
  EXPECT_EQ(schedule->timesteps.front(), 951.0);
  EXPECT_EQ(schedule->timesteps[1], 901.0);
  EXPECT_EQ(schedule->timesteps.back(), 1.0);
  EXPECT_EQ(schedule->sigmas.front(), static_cast<double>(training->sigmas()[951]));
  EXPECT_EQ(schedule->sigmas.back(), static_cast<double>(training->sigmas()[0]));
  EXPECT_NEAR(schedule->init_noise_sigma, std::sqrt(schedule->sigmas[0] * schedule->sigmas[0] + 1), 1e-12);
  // 6 does not divide 1000: exactly 6 steps, stride 166.
  auto six = DdimSchedule(nullptr, 6);
  ASSERT_TRUE(six.ok());
  EXPECT_EQ(six->steps(), 6);
  EXPECT_EQ(six->timesteps.front(), 831.0);
  EXPECT_FALSE(MakeSchedule({SamplerKind::kDdim, ScheduleKind::kKarras}, 20).ok());
}

TEST(ReferenceSchedule, EulerMatchesDiffusersLinspace) {
  auto schedule = DiffusersEulerSchedule(nullptr, 6, /*karras=*/false);
  ASSERT_TRUE(schedule.ok());
  const double expected_t[] = {999.0, 799.2, 599.4, 399.6, 199.8, 0.0};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(schedule->timesteps[i], expected_t[i], 1e-4);
  EXPECT_NEAR(schedule->sigmas[0], 14.614645, 1e-5);
  EXPECT_EQ(schedule->sigmas[6], 0.0);
  EXPECT_EQ(schedule->init_noise_sigma, schedule->sigmas[0]);
}

TEST(ReferenceSchedule, DpmSolverKarrasRoundsTimesteps) {
  auto schedule = DiffusersDpmSolverSchedule(nullptr, 6, /*karras=*/true);
  ASSERT_TRUE(schedule.ok());
  const double expected_t[] = {999, 837, 594, 249, 30, 0};  // README section 3
  for (int i = 0; i < 6; ++i) EXPECT_EQ(schedule->timesteps[i], expected_t[i]) << i;
  EXPECT_EQ(schedule->sigmas[6], schedule->sigmas[5]);
  EXPECT_NEAR(schedule->init_noise_sigma, std::sqrt(schedule->sigmas[0] * schedule->sigmas[0] + 1), 1e-12);
  EXPECT_NEAR(schedule->output_scale, 1 / std::sqrt(schedule->sigmas[6] * schedule->sigmas[6] + 1), 1e-12);
}

TEST(ReferenceSchedule, DpmSolverLinspaceEndsAtSigmaMin) {
  auto schedule = DiffusersDpmSolverSchedule(nullptr, 10, /*karras=*/false);
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(schedule->timesteps.front(), 999.0);
  EXPECT_EQ(schedule->timesteps[1], 899.0);  // round(899.1)
  EXPECT_EQ(schedule->timesteps.back(), 100.0);  // round(99.9)
  EXPECT_EQ(schedule->sigmas.back(), static_cast<double>(Sd15TrainingSchedule()->sigmas()[0]));
}

TEST(MakeSchedule, PicksTheScheduleOfEachSemantics) {
  auto front = MakeSchedule({SamplerKind::kDpmpp2M, ScheduleKind::kKarras}, 6);
  ASSERT_TRUE(front.ok());
  EXPECT_EQ(front->sigmas.back(), 0.0);
  EXPECT_EQ(front->semantics, ScheduleSemantics::kFrontEnd);
  auto reference = MakeSchedule({SamplerKind::kDpmpp2M, ScheduleKind::kKarras}, 6,
                                ScheduleSemantics::kDiffusersReference);
  ASSERT_TRUE(reference.ok());
  EXPECT_GT(reference->sigmas.back(), 0.0);
  EXPECT_EQ(reference->semantics, ScheduleSemantics::kDiffusersReference);
  EXPECT_FALSE(MakeSchedule({SamplerKind::kEuler, ScheduleKind::kNormal}, 0).ok());
}

TEST(Img2ImgStart, FollowsTheFrontEndDefinition) {
  EXPECT_EQ(Img2ImgStart(20, 0.75).value(), 20 - 15 - 1);
  EXPECT_EQ(Img2ImgStart(20, 1.0).value(), 0);   // t_enc = int(0.999 * 20) = 19
  EXPECT_EQ(Img2ImgStart(20, 0.0).value(), 19);  // one step still runs
  EXPECT_EQ(Img2ImgStart(10, 0.5).value(), 4);
  EXPECT_FALSE(Img2ImgStart(20, 1.5).ok());
  EXPECT_FALSE(Img2ImgStart(20, -0.1).ok());
}

TEST(SamplerNames, ParseAndNameRoundTrip) {
  for (const std::string& name : KnownSamplerSpecNames()) {
    auto spec = ParseSamplerSpec(name);
    ASSERT_TRUE(spec.ok()) << name;
    auto back = SamplerSpecName(*spec);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, name);
  }
  EXPECT_EQ(KnownSamplerSpecNames().size(), 9u);
  auto spec = ParseSamplerSpec("DPM++ 2M Karras");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->sampler, SamplerKind::kDpmpp2M);
  EXPECT_EQ(spec->schedule, ScheduleKind::kKarras);
  EXPECT_EQ(ParseSamplerSpec("Euler a")->sampler, SamplerKind::kEulerAncestral);
  EXPECT_FALSE(ParseSamplerSpec("DDIM Karras").ok());
  EXPECT_FALSE(ParseSamplerSpec("euler").ok());
  auto unknown = ParseSamplerSpec("LMS");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'DPM++ SDE Karras'"), std::string::npos);
}

}  // namespace
}  // namespace farm::sd
