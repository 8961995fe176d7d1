// search: (successive halving): the section's checks with their places, the counts of a
// search (first rung, expected, maximum), the first rung's jobs, the stored spec read back
// for farmd, and the rung decisions on made-up scores.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "farm/sweep/halving.h"
#include "sweep_test_util.h"

namespace farm::sweep {
namespace {

using testing::Diagnose;
using testing::FakeResolver;
using testing::kSpecHeader;
using testing::ParseOrFail;

// 3 x 4 = 12 cells, 8 seeds. Lines: header 1-3, render 4-7, grid 8-10, search 11.
std::string SearchSpecText(const std::string& search,
                           const std::string& seeds = "[11, 12, 13, 14, 15, 16, 17, 18]") {
  return std::string(kSpecHeader) +
         "render:\n"
         "  prompt: 'photo of {token}'\n"
         "  sampler: Euler\n"
         "  seeds: " + seeds + "\n"
         "grid:\n"
         "  cfg: [5, 7, 9]\n"
         "  clip_skip: [1, 2, 3, 4]\n"
         "search: " + search + "\n";
}

const char kHalving[] = "{method: halving, seeds_per_rung: [2, 4, 8], keep: 0.5, metric: cosine}";

void ExpectOneDiagnostic(const std::string& yaml, int line, const std::string& path,
                         const std::vector<std::string>& fragments) {
  std::vector<Diagnostic> diagnostics = Diagnose(yaml);
  ASSERT_EQ(diagnostics.size(), 1u) << FormatDiagnostics(diagnostics);
  EXPECT_EQ(diagnostics[0].line, line) << diagnostics[0].ToString();
  EXPECT_EQ(diagnostics[0].path, path) << diagnostics[0].ToString();
  for (const std::string& fragment : fragments) {
    EXPECT_NE(diagnostics[0].message.find(fragment), std::string::npos)
        << "'" << fragment << "' not in: " << diagnostics[0].ToString();
  }
}

TEST(SearchSpecTest, ParsesEveryField) {
  SweepSpec spec = ParseOrFail(SearchSpecText(kHalving));
  ASSERT_TRUE(spec.search.has_value());
  EXPECT_EQ(spec.search->method, "halving");
  EXPECT_EQ(spec.search->seeds_per_rung, (std::vector<std::int64_t>{2, 4, 8}));
  EXPECT_DOUBLE_EQ(spec.search->keep, 0.5);
  EXPECT_EQ(spec.search->metric, "cosine");
  // Ranking needs scores: the search scores with its metric.
  ASSERT_TRUE(spec.score.has_value());
  EXPECT_EQ(spec.score->metric, "cosine");
}

TEST(SearchSpecTest, KeepDefaultsToHalfAndMetricToTheScoreSection) {
  SweepSpec spec = ParseOrFail(SearchSpecText("{method: halving, seeds_per_rung: [1, 2]}") +
                               "score: {metric: euclidean}\n");
  ASSERT_TRUE(spec.search.has_value());
  EXPECT_DOUBLE_EQ(spec.search->keep, 0.5);
  EXPECT_EQ(spec.search->metric, "euclidean");
}

TEST(SearchSpecTest, BadFieldsAreReportedWithTheirPlace) {
  ExpectOneDiagnostic(SearchSpecText("{method: bisect, seeds_per_rung: [2, 4]}"), 11,
                      "search.method", {"unknown search method 'bisect'", "expected halving"});
  ExpectOneDiagnostic(SearchSpecText("{method: halving, seeds_per_rung: [2, 4], keep: 1}"), 11,
                      "search.keep", {"expected a number in (0, 1)"});
  ExpectOneDiagnostic(SearchSpecText("{method: halving, seeds_per_rung: [2, 4], keep: 0}"), 11,
                      "search.keep", {"expected a number in (0, 1)"});
  ExpectOneDiagnostic(SearchSpecText("{method: halving, seeds_per_rung: [4, 2]}"), 11,
                      "search.seeds_per_rung[1]", {"after 4", "grow from rung to rung"});
  ExpectOneDiagnostic(SearchSpecText("{method: halving, seeds_per_rung: [0, 2]}"), 11,
                      "search.seeds_per_rung[0]", {"out of range"});
  ExpectOneDiagnostic(SearchSpecText("{method: halving, seeds_per_rung: [4]}"), 11,
                      "search.seeds_per_rung", {"at least two rungs"});
  ExpectOneDiagnostic(SearchSpecText("{method: halving, seeds_per_rung: [2, 4], metric: l2}"), 11,
                      "search.metric", {"unknown metric 'l2'", "cosine", "euclidean"});
  ExpectOneDiagnostic(SearchSpecText("{method: halving, seeds_per_rung: [2, 4], kep: 0.5}"), 11,
                      "search.kep", {"unknown key 'kep'", "did you mean 'keep'?"});
  ExpectOneDiagnostic(SearchSpecText("{seeds_per_rung: [2, 4]}"), 11, "search.method",
                      {"method: halving"});
  ExpectOneDiagnostic(SearchSpecText("{method: halving, seeds_per_rung: [2, 16]}"), 11,
                      "search.seeds_per_rung", {"16 seeds per cell", "render.seeds has 8"});
  ExpectOneDiagnostic(
      SearchSpecText("{method: halving, seeds_per_rung: [2, 4], metric: cosine}") +
          "score: {metric: euclidean}\n",
      11, "search.metric", {"ranks by cosine but score: asks for euclidean"});
}

TEST(SearchSpecTest, CountsFirstRungExpectedAndMaximum) {
  SweepSpec spec = ParseOrFail(SearchSpecText(kHalving));
  auto count = CountJobs(spec);
  ASSERT_TRUE(count.ok()) << count.status().message();
  // First rung: 12 cells x 2 seeds, each with its score job.
  EXPECT_EQ(count->render, 24);
  EXPECT_EQ(count->score, 24);
  ASSERT_TRUE(count->search.has_value());
  EXPECT_EQ(count->search->cells, 12);
  EXPECT_EQ(count->search->cells_per_rung, (std::vector<std::int64_t>{12, 6, 3}));
  // Maximum: the full grid at the last rung's 8 seeds.
  EXPECT_EQ(count->search->maximum.render, 96);
  EXPECT_EQ(count->search->maximum.total(), 192);
  // Expected: 12 x 2 + 6 x 2 + 3 x 4 = 48 renders.
  EXPECT_EQ(count->search->expected.render, 48);
  EXPECT_EQ(count->search->expected.total(), 96);
}

TEST(SearchSpecTest, ExpandBuildsTheFirstRungWithTheFirstSeeds) {
  SweepSpec spec = ParseOrFail(SearchSpecText(kHalving));
  FakeResolver resolver;
  auto sweep = ExpandSweep(spec, resolver);
  ASSERT_TRUE(sweep.ok()) << sweep.status().message();
  std::set<std::uint64_t> seeds;
  int renders = 0;
  for (const SweepJob& job : sweep->jobs) {
    if (job.kind() != JobKind::kRender) continue;
    ++renders;
    seeds.insert(std::get<RenderParams>(job.params).seed);
  }
  EXPECT_EQ(renders, 24);
  EXPECT_EQ(seeds, (std::set<std::uint64_t>{11, 12}));
  EXPECT_EQ(static_cast<std::int64_t>(sweep->jobs.size()), CountJobs(spec)->total());
  ASSERT_TRUE(sweep->count.search.has_value());
  EXPECT_EQ(sweep->count.search->maximum.total(), 192);
}

TEST(SearchSpecTest, CapAppliesToTheMaximum) {
  SweepSpec spec = ParseOrFail(SearchSpecText(kHalving));
  FakeResolver resolver;
  ExpandOptions options;
  options.max_jobs = 100;  // the first rung (48) fits, the full grid (192) does not
  auto sweep = ExpandSweep(spec, resolver, options);
  ASSERT_FALSE(sweep.ok());
  EXPECT_NE(sweep.status().message().find("at most 192 jobs"), std::string::npos)
      << sweep.status().message();
}

TEST(SearchSpecTest, StoredSpecReadsBackWithoutPresets) {
  // Only search:, score: and render.seeds are read (no presets, no files).
  const std::string yaml = SearchSpecText(kHalving, "{base: 100, count: 8}");
  auto plan = ReadSearchPlan(yaml, "stored.yaml");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->search.seeds_per_rung, (std::vector<std::int64_t>{2, 4, 8}));
  EXPECT_EQ(plan->seeds.front(), 100u);
  EXPECT_EQ(plan->seeds.size(), 8u);
  auto none = ReadSearchPlan(std::string(kSpecHeader) + "render: {seeds: [1]}\n", "plain.yaml");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
}

TEST(HalvingTest, CellsKeptRoundsUpAndKeepsOne) {
  EXPECT_EQ(CellsKept(12, 0.5), 6);
  EXPECT_EQ(CellsKept(5, 0.5), 3);
  EXPECT_EQ(CellsKept(10, 0.3), 3);  // 0.3 x 10 is 3.0000000000000004 in binary
  EXPECT_EQ(CellsKept(1, 0.1), 1);
  EXPECT_EQ(CellsKept(0, 0.5), 0);
}

SearchPlan Plan(std::vector<std::int64_t> rungs, double keep, const std::string& metric,
                std::vector<std::uint64_t> seeds) {
  SearchPlan plan;
  plan.search.method = "halving";
  plan.search.seeds_per_rung = std::move(rungs);
  plan.search.keep = keep;
  plan.search.metric = metric;
  plan.seeds = std::move(seeds);
  return plan;
}

TEST(HalvingTest, RanksByMeanAndAddsTheNextSeedsForTheBest) {
  SearchPlan plan = Plan({1, 2, 4}, 0.5, "cosine", {7, 8, 9, 10});
  std::vector<CellScores> cells = {
      {"a", {{7, 0.5}}},
      {"b", {{7, 0.9}}},
      {"c", {{7, std::nullopt}}},  // no face: worst
      {"d", {{7, 0.7}}},
  };
  auto decision = DecideRung(plan, cells);
  ASSERT_TRUE(decision.ok()) << decision.status().message();
  EXPECT_EQ(decision->rung, 0);
  EXPECT_FALSE(decision->last);
  EXPECT_EQ(decision->survivors, (std::vector<std::size_t>{1, 3}));  // b, d
  EXPECT_EQ(decision->new_seeds, (std::vector<std::uint64_t>{8}));
  EXPECT_EQ(decision->ranking.back().cell, 2u);
  EXPECT_EQ(decision->ranking.back().missing, 1);
  EXPECT_DOUBLE_EQ(decision->ranking.back().mean, -1.0);

  // Rung 1: b and d have two seeds; the others stopped at one.
  cells[1].scores[8] = 0.1;  // b: mean 0.5
  cells[3].scores[8] = 0.5;  // d: mean 0.6
  decision = DecideRung(plan, cells);
  ASSERT_TRUE(decision.ok()) << decision.status().message();
  EXPECT_EQ(decision->rung, 1);
  EXPECT_EQ(decision->in_rung, (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(decision->survivors, (std::vector<std::size_t>{3}));
  EXPECT_EQ(decision->new_seeds, (std::vector<std::uint64_t>{9, 10}));

  cells[3].scores[9] = 0.5;
  cells[3].scores[10] = 0.5;
  decision = DecideRung(plan, cells);
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->rung, 2);
  EXPECT_TRUE(decision->last);
  EXPECT_TRUE(decision->survivors.empty());
}

TEST(HalvingTest, TiesGoByKeyAndEuclideanIsLowerBetter) {
  SearchPlan plan = Plan({1, 2}, 0.5, "euclidean", {1, 2});
  std::vector<CellScores> cells = {
      {"z", {{1, 0.4}}}, {"y", {{1, 0.4}}}, {"x", {{1, 0.9}}}, {"w", {{1, std::nullopt}}}};
  auto decision = DecideRung(plan, cells);
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->survivors, (std::vector<std::size_t>{1, 0}));  // y before z (key)
  EXPECT_EQ(decision->ranking[2].cell, 2u);                           // x: 0.9
  EXPECT_EQ(decision->ranking[3].cell, 3u);                           // missing: worst (2)
  EXPECT_DOUBLE_EQ(decision->ranking[3].mean, 2.0);
}

TEST(HalvingTest, SeedsThatAreNotARungArePrecondition) {
  SearchPlan plan = Plan({1, 2}, 0.5, "cosine", {1, 2});
  std::vector<CellScores> cells = {{"a", {{2, 0.4}}}};  // seed 2 without seed 1
  auto decision = DecideRung(plan, cells);
  EXPECT_EQ(decision.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(decision.status().message().find("cell a"), std::string::npos);
}

}  // namespace
}  // namespace farm::sweep
