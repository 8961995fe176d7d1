// Bootstrap, Wilson and normal-quantile arithmetic against values worked out by hand.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "farm/analysis/bootstrap.h"
#include "farm/analysis/proportion.h"

namespace farm::analysis {
namespace {

TEST(NormalQuantileTest, KnownQuantiles) {
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.5), 0.0, 1e-15);
  EXPECT_NEAR(NormalQuantile(0.05), -1.644853626951472, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.001), -3.090232306167813, 1e-11);  // tail branch
  EXPECT_TRUE(std::isnan(NormalQuantile(0.0)));
  EXPECT_TRUE(std::isnan(NormalQuantile(1.0)));
}

TEST(WilsonTest, EightOfTen) {
  // z = 1.959964, z^2 = 3.841459, p = 0.8, n = 10
  // denom  = 1 + 3.841459/10                       = 1.3841459
  // center = (0.8 + 3.841459/20) / 1.3841459       = 0.9920729 / 1.3841459 = 0.716740
  // half   = 1.959964 * sqrt(0.016 + 3.841459/400) / 1.3841459
  //        = 1.959964 * 0.1600113 / 1.3841459      = 0.226578
  // -> [0.490162, 0.943318]
  const Interval ci = Wilson(8, 10, 0.95);
  EXPECT_NEAR(ci.low, 0.490162, 5e-6);
  EXPECT_NEAR(ci.high, 0.943318, 5e-6);
}

TEST(WilsonTest, AllOrNoneStayInsideZeroOne) {
  // 0 of 10: center = half = (3.841459/20)/1.3841459 = 0.138767 -> [0, 0.277533]
  const Interval none = Wilson(0, 10, 0.95);
  EXPECT_DOUBLE_EQ(none.low, 0.0);
  EXPECT_NEAR(none.high, 0.277533, 5e-6);
  // 10 of 10 mirrors it: [1 - 0.277533, 1]
  const Interval all = Wilson(10, 10, 0.95);
  EXPECT_NEAR(all.low, 0.722467, 5e-6);
  EXPECT_DOUBLE_EQ(all.high, 1.0);
  EXPECT_FALSE(Wilson(0, 0, 0.95).valid());
}

TEST(WilsonTest, NinetyPercentIsNarrower) {
  // z(0.95) = 1.644854, z^2 = 2.705543: 8/10 -> denom 1.2705543,
  // center (0.8 + 0.1352772) / 1.2705543 = 0.736117,
  // half 1.644854 * sqrt(0.016 + 0.0067639) / 1.2705543 = 0.195325 -> [0.540793, 0.931442]
  const Interval ci = Wilson(8, 10, 0.90);
  EXPECT_NEAR(ci.low, 0.540793, 5e-6);
  EXPECT_NEAR(ci.high, 0.931442, 5e-6);
}

TEST(MakeProportionTest, RateAndInterval) {
  const Proportion p = MakeProportion(3, 4);
  EXPECT_EQ(p.successes, 3u);
  EXPECT_EQ(p.n, 4u);
  EXPECT_DOUBLE_EQ(p.rate, 0.75);
  EXPECT_TRUE(p.ci.Contains(0.75));
  EXPECT_TRUE(std::isnan(MakeProportion(0, 0).rate));
}

TEST(SortedQuantileTest, InterpolatesBetweenOrderStatistics) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(SortedQuantile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(SortedQuantile(v, 0.5), 2.5);   // position 1.5
  EXPECT_DOUBLE_EQ(SortedQuantile(v, 0.25), 1.75);  // position 0.75
  EXPECT_DOUBLE_EQ(SortedQuantile(v, 1.0), 4.0);
}

TEST(BootstrapMeanTest, MeanStdDevAndCoverage) {
  // mean = 15/5 = 3; sd = sqrt((4+1+0+1+4)/4) = sqrt(2.5) = 1.581139
  const std::vector<double> v = {1, 2, 3, 4, 5};
  const MeanCi m = BootstrapMean(v);
  EXPECT_EQ(m.n, 5u);
  EXPECT_DOUBLE_EQ(m.mean, 3.0);
  EXPECT_NEAR(m.stddev, 1.581139, 1e-6);
  EXPECT_EQ(m.method, CiMethod::kBootstrap);
  EXPECT_TRUE(m.ci.Contains(3.0));
  // A resampled mean cannot leave [min, max]; with 5 values it rarely reaches them.
  EXPECT_GE(m.ci.low, 1.0);
  EXPECT_LE(m.ci.high, 5.0);
  EXPECT_LT(m.ci.low, 3.0);
  EXPECT_GT(m.ci.high, 3.0);
}

TEST(BootstrapMeanTest, TwoPointDistributionHasKnownPercentiles) {
  // Resampling {0, 1} twice: the mean is 0 (p 1/4), 0.5 (p 1/2) or 1 (p 1/4). About 500 of
  // 2000 resampled means are 0 and 500 are 1, so the 2.5 % and 97.5 % quantiles (positions
  // 49.975 and 1949.025 of the sorted means) are exactly 0 and 1.
  const std::vector<double> v = {0, 1};
  const MeanCi m = BootstrapMean(v);
  EXPECT_DOUBLE_EQ(m.mean, 0.5);
  EXPECT_DOUBLE_EQ(m.ci.low, 0.0);
  EXPECT_DOUBLE_EQ(m.ci.high, 1.0);
}

TEST(BootstrapMeanTest, ConstantDataGivesAPointInterval) {
  const std::vector<double> v(7, 0.42);
  const MeanCi m = BootstrapMean(v);
  EXPECT_DOUBLE_EQ(m.ci.low, 0.42);
  EXPECT_DOUBLE_EQ(m.ci.high, 0.42);
}

TEST(BootstrapMeanTest, SameSeedSameIntervalOtherSeedOther) {
  std::vector<double> v;
  for (int i = 0; i < 40; ++i) v.push_back(std::sin(i * 1.7) * 0.3 + 0.5);
  BootstrapOptions options;
  options.seed = 7;
  const MeanCi first = BootstrapMean(v, options);
  const MeanCi again = BootstrapMean(v, options);
  EXPECT_EQ(first.ci.low, again.ci.low);
  EXPECT_EQ(first.ci.high, again.ci.high);
  options.seed = 8;
  const MeanCi other = BootstrapMean(v, options);
  EXPECT_TRUE(other.ci.low != first.ci.low || other.ci.high != first.ci.high);
  EXPECT_DOUBLE_EQ(other.mean, first.mean);
  EXPECT_TRUE(other.ci.Contains(other.mean));
}

TEST(BootstrapMeanTest, EmptyAndSingleValue) {
  const MeanCi empty = BootstrapMean(std::vector<double>{});
  EXPECT_EQ(empty.n, 0u);
  EXPECT_TRUE(std::isnan(empty.mean));
  EXPECT_FALSE(empty.ci.valid());
  EXPECT_EQ(empty.method, CiMethod::kNone);
  const MeanCi one = BootstrapMean(std::vector<double>{0.7});
  EXPECT_EQ(one.n, 1u);
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_FALSE(one.ci.valid());
  EXPECT_EQ(one.method, CiMethod::kNone);
}

TEST(BootstrapMeanTest, NormalIntervalAboveTheThreshold) {
  // {1..5}: se = 1.581139 / sqrt(5) = 0.707107; half = 1.959964 * 0.7071068 = 1.385904
  BootstrapOptions options;
  options.normal_above = 4;
  const MeanCi m = BootstrapMean(std::vector<double>{1, 2, 3, 4, 5}, options);
  EXPECT_EQ(m.method, CiMethod::kNormal);
  EXPECT_NEAR(m.ci.low, 3.0 - 1.385904, 1e-6);
  EXPECT_NEAR(m.ci.high, 3.0 + 1.385904, 1e-6);
}

TEST(BootstrapDeltaTest, DeltaIsBMinusAAndCoversIt) {
  // mean(a) = 0.5, mean(b) = 0.7 -> delta 0.2
  const std::vector<double> a = {0.4, 0.5, 0.6, 0.45, 0.55};
  const std::vector<double> b = {0.6, 0.7, 0.8, 0.65, 0.75};
  const DeltaCi d = BootstrapDelta(a, b);
  EXPECT_NEAR(d.delta, 0.2, 1e-12);
  EXPECT_NEAR(d.a.mean, 0.5, 1e-12);
  EXPECT_NEAR(d.b.mean, 0.7, 1e-12);
  EXPECT_TRUE(d.ci.Contains(0.2));
  EXPECT_FALSE(d.ci.Contains(0.0));  // the sides do not even overlap
  // Every resampled delta lies in [min b - max a, max b - min a] = [0, 0.4].
  EXPECT_GE(d.ci.low, 0.0);
  EXPECT_LE(d.ci.high, 0.4);
  const DeltaCi again = BootstrapDelta(a, b);
  EXPECT_EQ(again.ci.low, d.ci.low);
  EXPECT_EQ(again.ci.high, d.ci.high);
}

TEST(BootstrapDeltaTest, NormalDeltaAboveTheThreshold) {
  // sd(a) = sd(b) = sqrt(0.025/4) = 0.0790569; se = sqrt(2 * 0.00625 / 5) = 0.05;
  // half = 1.959964 * 0.05 = 0.0979982
  BootstrapOptions options;
  options.normal_above = 3;
  const std::vector<double> a = {0.4, 0.5, 0.6, 0.45, 0.55};
  const std::vector<double> b = {0.6, 0.7, 0.8, 0.65, 0.75};
  const DeltaCi d = BootstrapDelta(a, b, options);
  EXPECT_EQ(d.method, CiMethod::kNormal);
  EXPECT_NEAR(d.ci.low, 0.2 - 0.0979982, 1e-6);
  EXPECT_NEAR(d.ci.high, 0.2 + 0.0979982, 1e-6);
}

TEST(BootstrapDeltaTest, OneSideTooSmallHasNoInterval) {
  const DeltaCi d = BootstrapDelta(std::vector<double>{0.5}, std::vector<double>{0.6, 0.7});
  EXPECT_NEAR(d.delta, 0.15, 1e-12);
  EXPECT_FALSE(d.ci.valid());
}

}  // namespace
}  // namespace farm::analysis
