// Marginal means, eta squared, ranking, two-way tables and success rates on a fixture
// small enough to work out by hand.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "farm/analysis/effects.h"

namespace farm::analysis {
namespace {

constexpr double kTol = 1e-12;

//   cfg  sampler  pose   score  face
//   5    A        front  0.40   yes
//   5    B        front  0.60   yes
//   7    A        front  0.50   yes
//   7    B        front  0.70   yes
//   10   A        front  0.30   yes
//   10   B        front  —      no
// Scored rows: 5, grand mean = 2.5 / 5 = 0.50.
// SS_total = 0.01 + 0.01 + 0 + 0.04 + 0.04 = 0.10.
// cfg:     5 -> 0.50 (n 2), 7 -> 0.60 (n 2), 10 -> 0.30 (n 1, 2 renders)
//          SS_between = 2*0^2 + 2*0.1^2 + 1*0.2^2 = 0.06 -> eta^2 0.60, range 0.30
// sampler: A -> 1.2/3 = 0.40 (n 3), B -> 1.3/2 = 0.65 (n 2)
//          SS_between = 3*0.1^2 + 2*0.15^2 = 0.075 -> eta^2 0.75, range 0.25
// So sampler ranks above cfg by eta squared although cfg's range is larger.
ScoredTable Fixture() {
  ScoredTable t;
  t.scores = {0.40, 0.60, 0.50, 0.70, 0.30, kNaN};
  t.face_found = {kFace, kFace, kFace, kFace, kFace, kNoFace};
  t.AddParameter("cfg", {"5", "5", "7", "7", "10", "10"});
  t.AddParameter("sampler", {"A", "B", "A", "B", "A", "B"});
  t.AddParameter("pose", std::vector<std::string>(6, "front"));
  return t;
}

TEST(OrderedLevelsTest, NumbersNumericallyThenText) {
  EXPECT_EQ(OrderedLevels({"10", "5", "7.5", "5"}), (std::vector<std::string>{"5", "7.5", "10"}));
  EXPECT_EQ(OrderedLevels({"b", "NULL", "10", "a", "9"}),
            (std::vector<std::string>{"9", "10", "NULL", "a", "b"}));
}

TEST(MarginalMeansTest, MeansPerValueWithCounts) {
  const ScoredTable t = Fixture();
  const ParameterEffect cfg = MarginalMeans(t, 0);
  ASSERT_EQ(cfg.levels.size(), 3u);
  EXPECT_EQ(cfg.levels[0].value, "5");
  EXPECT_EQ(cfg.levels[1].value, "7");
  EXPECT_EQ(cfg.levels[2].value, "10");
  EXPECT_NEAR(cfg.levels[0].score.mean, 0.50, kTol);
  EXPECT_NEAR(cfg.levels[1].score.mean, 0.60, kTol);
  EXPECT_NEAR(cfg.levels[2].score.mean, 0.30, kTol);
  EXPECT_EQ(cfg.levels[0].score.n, 2u);
  EXPECT_EQ(cfg.levels[2].score.n, 1u);
  EXPECT_EQ(cfg.levels[2].renders, 2u);
  EXPECT_FALSE(cfg.levels[2].score.ci.valid());  // one scored render: no interval
  // Two values 0.4 and 0.6: resampled means are 0.4, 0.5 or 0.6 -> the 95 % ends are the extremes.
  EXPECT_NEAR(cfg.levels[0].score.ci.low, 0.40, kTol);
  EXPECT_NEAR(cfg.levels[0].score.ci.high, 0.60, kTol);
  EXPECT_NEAR(cfg.eta_squared, 0.60, kTol);
  EXPECT_NEAR(cfg.range, 0.30, kTol);

  const ParameterEffect sampler = MarginalMeans(t, 1);
  EXPECT_NEAR(sampler.levels[0].score.mean, 0.40, kTol);
  EXPECT_NEAR(sampler.levels[1].score.mean, 0.65, kTol);
  EXPECT_NEAR(sampler.eta_squared, 0.75, kTol);
  EXPECT_NEAR(sampler.range, 0.25, kTol);
}

TEST(AnalyseEffectsTest, RanksByEtaSquaredAndListsConstants) {
  auto summary = AnalyseEffects(Fixture());
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->rows, 6u);
  EXPECT_EQ(summary->scored, 5u);
  EXPECT_NEAR(summary->grand_mean, 0.50, kTol);
  ASSERT_EQ(summary->ranked.size(), 2u);
  EXPECT_EQ(summary->ranked[0].name, "sampler");
  EXPECT_EQ(summary->ranked[1].name, "cfg");
  ASSERT_EQ(summary->constant.size(), 1u);
  EXPECT_EQ(summary->constant[0].name, "pose");
  EXPECT_EQ(summary->constant[0].value, "front");
}

TEST(AnalyseEffectsTest, MalformedTableIsRefused) {
  ScoredTable t = Fixture();
  t.values[1].pop_back();
  auto summary = AnalyseEffects(t);
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.status().message().find("'sampler' has 5 values for 6 rows"), std::string::npos)
      << summary.status().message();
}

TEST(AnalyseEffectsTest, EqualScoresHaveNoEffectSize) {
  ScoredTable t;
  t.scores = {0.5, 0.5, 0.5};
  t.face_found = {kFace, kFace, kFace};
  t.AddParameter("seed", {"1", "2", "3"});
  auto summary = AnalyseEffects(t);
  ASSERT_TRUE(summary.ok());
  ASSERT_EQ(summary->ranked.size(), 1u);
  EXPECT_TRUE(std::isnan(summary->ranked[0].eta_squared));
  EXPECT_NEAR(summary->ranked[0].range, 0.0, kTol);
}

TEST(TwoWayTest, CellMeansAndCounts) {
  auto table = TwoWay(Fixture(), "cfg", "sampler");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->row_values, (std::vector<std::string>{"5", "7", "10"}));
  EXPECT_EQ(table->column_values, (std::vector<std::string>{"A", "B"}));
  EXPECT_NEAR(table->cells[0][0].mean, 0.40, kTol);
  EXPECT_NEAR(table->cells[0][1].mean, 0.60, kTol);
  EXPECT_NEAR(table->cells[1][0].mean, 0.50, kTol);
  EXPECT_NEAR(table->cells[1][1].mean, 0.70, kTol);
  EXPECT_NEAR(table->cells[2][0].mean, 0.30, kTol);
  EXPECT_EQ(table->cells[2][1].n, 0u);  // the one render there found no face
  EXPECT_TRUE(std::isnan(table->cells[2][1].mean));
}

TEST(TwoWayTest, AveragesRepeatedCells) {
  ScoredTable t;
  t.scores = {0.2, 0.4, 0.9};
  t.face_found = {kFace, kFace, kFace};
  t.AddParameter("a", {"x", "x", "y"});
  t.AddParameter("b", {"p", "p", "p"});
  auto table = TwoWay(t, "a", "b");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->cells[0][0].n, 2u);
  EXPECT_NEAR(table->cells[0][0].mean, 0.3, kTol);  // (0.2 + 0.4) / 2
  EXPECT_NEAR(table->cells[1][0].mean, 0.9, kTol);
}

TEST(TwoWayTest, UnknownOrRepeatedParameter) {
  auto missing = TwoWay(Fixture(), "cfg", "sampeler");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("'sampeler'"), std::string::npos);
  EXPECT_EQ(TwoWay(Fixture(), "cfg", "cfg").status().code(), StatusCode::kInvalidArgument);
}

TEST(SuccessRatesTest, FaceAndScoreAtLeastThreshold) {
  // threshold 0.5: A has 0.40, 0.50, 0.30 -> 1 of 3 (0.50 counts: >=);
  // B has 0.60, 0.70 and a render with no face -> 2 of 3.
  ScoredTable t = Fixture();
  const auto rates = SuccessRates(t, 1, 0.5);
  ASSERT_EQ(rates.size(), 2u);
  EXPECT_EQ(rates[0].value, "A");
  EXPECT_EQ(rates[0].success.successes, 1u);
  EXPECT_EQ(rates[0].success.n, 3u);
  EXPECT_EQ(rates[1].success.successes, 2u);
  EXPECT_EQ(rates[1].success.n, 3u);
  // Wilson 1 of 3 at 95 %: denom 2.280486, center 0.426916, half 0.365424.
  EXPECT_NEAR(rates[0].success.ci.low, 0.061492, 5e-6);
  EXPECT_NEAR(rates[0].success.ci.high, 0.792340, 5e-6);
}

TEST(SuccessRatesTest, UnscoredRendersAreLeftOut) {
  ScoredTable t;
  t.scores = {0.8, kNaN, kNaN};
  t.face_found = {kFace, kNoFace, kFaceUnknown};
  t.AddParameter("pose", {"side", "side", "side"});
  const auto rates = SuccessRates(t, 0, 0.5);
  ASSERT_EQ(rates.size(), 1u);
  EXPECT_EQ(rates[0].success.successes, 1u);
  EXPECT_EQ(rates[0].success.n, 2u);  // the not-yet-scored render is not a failure
}

}  // namespace
}  // namespace farm::analysis

namespace farm::analysis {
namespace {

TEST(AnalyseEffectsTest, DrawBudgetSwitchesAParameterToNormalIntervals) {
  // Two values with 3 scored renders each: bootstrapping both costs 2 x 3 x 100 = 600 draws.
  ScoredTable t;
  t.scores = {0.1, 0.2, 0.3, 0.5, 0.6, 0.7};
  t.face_found = std::vector<signed char>(6, kFace);
  t.AddParameter("seed", {"1", "1", "1", "2", "2", "2"});
  EffectsOptions options;
  options.bootstrap.resamples = 100;
  options.bootstrap_draw_budget = 600;  // within budget: bootstrap
  auto within = AnalyseEffects(t, options);
  ASSERT_TRUE(within.ok());
  EXPECT_EQ(within->ranked[0].levels[0].score.method, CiMethod::kBootstrap);
  options.bootstrap_draw_budget = 599;  // over: normal, mean 0.2 +- 1.959964 * 0.1 / sqrt(3)
  auto over = AnalyseEffects(t, options);
  ASSERT_TRUE(over.ok());
  const MeanCi& level = over->ranked[0].levels[0].score;
  EXPECT_EQ(level.method, CiMethod::kNormal);
  EXPECT_NEAR(level.ci.low, 0.2 - 0.113159, 1e-6);
  EXPECT_NEAR(level.ci.high, 0.2 + 0.113159, 1e-6);
}

}  // namespace
}  // namespace farm::analysis
