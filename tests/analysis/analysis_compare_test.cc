// Pairing, paired versus unpaired deltas and per-side summaries.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "farm/analysis/compare.h"
#include "farm/analysis/scored_table.h"

namespace farm::analysis {
namespace {

TEST(PairByKeyTest, PairsUniqueKeysOnly) {
  // s3 appears twice on side A: ambiguous, so neither of its A renders pairs.
  const std::vector<std::string> a = {"s1", "s2", "s3", "s3"};
  const std::vector<std::string> b = {"s2", "s1", "s3", "s4"};
  const Pairing p = PairByKey(a, b);
  ASSERT_EQ(p.pairs.size(), 2u);
  EXPECT_EQ(p.pairs[0], (std::pair<std::size_t, std::size_t>{0, 1}));
  EXPECT_EQ(p.pairs[1], (std::pair<std::size_t, std::size_t>{1, 0}));
  EXPECT_EQ(p.unpaired_a, 2u);
  EXPECT_EQ(p.unpaired_b, 2u);
}

// Four seeds whose scores spread widely (0.50..0.80); B adds about 0.05 to each.
// Differences b - a: 0.05, 0.06, 0.04, 0.05 -> mean 0.05; every resampled mean of them
// lies in [0.04, 0.06], so the paired interval excludes 0. Unpaired, each side's mean has a
// bootstrap standard error of about 0.056 (population sd 0.112 / sqrt 4), the delta's about
// 0.08, so its 95 % interval reaches below 0.
CompareSide SideA() {
  return {{0.50, 0.60, 0.70, 0.80}, {kFace, kFace, kFace, kFace}, {"1", "2", "3", "4"}};
}
CompareSide SideB() {
  return {{0.55, 0.66, 0.74, 0.85}, {kFace, kFace, kFace, kFace}, {"1", "2", "3", "4"}};
}

TEST(CompareTest, PairedIsNarrowerThanUnpaired) {
  const Comparison c = Compare(SideA(), SideB());
  EXPECT_NEAR(c.a.score.mean, 0.65, 1e-12);
  EXPECT_NEAR(c.b.score.mean, 0.70, 1e-12);
  EXPECT_NEAR(c.delta.delta, 0.05, 1e-12);
  EXPECT_TRUE(c.delta.ci.Contains(0.0));
  ASSERT_TRUE(c.paired.has_value());
  EXPECT_EQ(c.paired->pairs, 4u);
  EXPECT_EQ(c.paired->unpaired_a, 0u);
  EXPECT_NEAR(c.paired->diff.mean, 0.05, 1e-12);
  EXPECT_GE(c.paired->diff.ci.low, 0.04 - 1e-12);
  EXPECT_LE(c.paired->diff.ci.high, 0.06 + 1e-12);
  EXPECT_FALSE(c.paired->diff.ci.Contains(0.0));
  EXPECT_LT(c.paired->diff.ci.high - c.paired->diff.ci.low, c.delta.ci.high - c.delta.ci.low);
}

TEST(CompareTest, SeedOrderDoesNotMatterForPairs) {
  CompareSide b = SideB();
  std::swap(b.scores[0], b.scores[3]);
  std::swap(b.pair_keys[0], b.pair_keys[3]);
  const Comparison c = Compare(SideA(), b);
  ASSERT_TRUE(c.paired.has_value());
  EXPECT_NEAR(c.paired->diff.mean, 0.05, 1e-12);
}

TEST(CompareTest, FaceRatesAndUnscoredPairs) {
  // A: 3 scored renders with faces, 1 without a face -> face rate 3/4, mean (0.5+0.6+0.7)/3 = 0.6.
  // B: all four with faces. Pair "4" has no A score: matched but not used.
  CompareSide a = SideA();
  a.scores[3] = kNaN;
  a.face_found[3] = kNoFace;
  const Comparison c = Compare(a, SideB());
  EXPECT_EQ(c.a.renders, 4u);
  EXPECT_EQ(c.a.score.n, 3u);
  EXPECT_NEAR(c.a.score.mean, 0.6, 1e-12);
  EXPECT_EQ(c.a.face_found.successes, 3u);
  EXPECT_EQ(c.a.face_found.n, 4u);
  EXPECT_NEAR(c.a.face_found.rate, 0.75, 1e-12);
  EXPECT_TRUE(c.a.face_found.ci.Contains(0.75));
  ASSERT_TRUE(c.paired.has_value());
  EXPECT_EQ(c.paired->pairs, 3u);
  EXPECT_EQ(c.paired->unscored_pairs, 1u);
  // (0.05 + 0.06 + 0.04) / 3 = 0.05
  EXPECT_NEAR(c.paired->diff.mean, 0.05, 1e-12);
}

TEST(CompareTest, NoKeysNoPairedComparison) {
  CompareSide a = SideA();
  a.pair_keys.clear();
  EXPECT_FALSE(Compare(a, SideB()).paired.has_value());
  CompareSide b = SideB();
  b.pair_keys = {"x", "y", "z", "w"};
  EXPECT_FALSE(Compare(SideA(), b).paired.has_value());
}

TEST(CompareTest, SameSeedSameNumbers) {
  BootstrapOptions options;
  options.seed = 99;
  const Comparison first = Compare(SideA(), SideB(), options);
  const Comparison again = Compare(SideA(), SideB(), options);
  EXPECT_EQ(first.delta.ci.low, again.delta.ci.low);
  EXPECT_EQ(first.paired->diff.ci.high, again.paired->diff.ci.high);
}

}  // namespace
}  // namespace farm::analysis
