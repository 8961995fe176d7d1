// Seeded and recorded noise, and the seeded Brownian motion of the SDE sampler.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "farm/sd/brownian.h"
#include "farm/sd/noise.h"

namespace farm::sd {
namespace {

const at::TensorOptions kFloat = at::TensorOptions().dtype(at::kFloat);

TEST(SeededNoise, SameSeedSameNoise) {
  SeededNoise a(42, 1), b(42, 1);
  for (int draw = 0; draw < 3; ++draw) {
    auto x = a.Gaussian({1, 4, 8, 8}, kFloat);
    auto y = b.Gaussian({1, 4, 8, 8}, kFloat);
    ASSERT_TRUE(x.ok() && y.ok());
    EXPECT_TRUE(at::equal(*x, *y)) << "draw " << draw;
  }
  SeededNoise c(43, 1);
  SeededNoise d(42, 1);
  EXPECT_FALSE(at::equal(*c.Gaussian({1, 4, 8, 8}, kFloat), *d.Gaussian({1, 4, 8, 8}, kFloat)));
}

TEST(SeededNoise, ImageRowsDoNotDependOnTheBatch) {
  SeededNoise batch(100, 2), first(100, 1), second(101, 1);
  for (int draw = 0; draw < 2; ++draw) {
    at::Tensor both = *batch.Gaussian({2, 4, 8, 8}, kFloat);
    EXPECT_TRUE(at::equal(both[0], (*first.Gaussian({1, 4, 8, 8}, kFloat))[0]));
    EXPECT_TRUE(at::equal(both[1], (*second.Gaussian({1, 4, 8, 8}, kFloat))[0]));
  }
}

TEST(SeededNoise, MatchesATorchGeneratorSeededWithTheImageSeed) {
  // The initial latent is what torch.randn gives with torch.Generator().manual_seed(seed).
  SeededNoise noise(7, 1);
  at::Tensor drawn = *noise.Gaussian({1, 4, 8, 8}, kFloat);
  at::Generator generator = at::detail::createCPUGenerator(7);
  at::Tensor expected = at::randn({4, 8, 8}, generator, kFloat);
  EXPECT_TRUE(at::equal(drawn[0], expected));
}

TEST(SeededNoise, RejectsAShapeForAnotherBatch) {
  SeededNoise noise(1, 2);
  auto drawn = noise.Gaussian({3, 4, 8, 8}, kFloat);
  ASSERT_FALSE(drawn.ok());
  EXPECT_NE(drawn.status().message().find("2 images"), std::string::npos);
}

TEST(RecordedNoise, ReplaysInOrderAndReportsExhaustion) {
  at::Tensor a = at::ones({1, 2}), b = at::full({1, 2}, 2.0);
  RecordedNoise noise({a, b});
  EXPECT_TRUE(at::equal(*noise.Gaussian({1, 2}, kFloat), a));
  EXPECT_FALSE(noise.Gaussian({1, 3}, kFloat).ok());  // wrong shape
  EXPECT_TRUE(at::equal(*noise.BrownianIncrement({1, 2}, kFloat, 2, 1, 1, 2), b));
  EXPECT_EQ(noise.used(), 2u);
  auto none = noise.Gaussian({1, 2}, kFloat);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("exhausted"), std::string::npos);
}

TEST(BrownianTree, DeterministicForASeedAndIndependentOfQueryOrder) {
  auto a = BrownianTree::Create(5, 0.03, 14.6, {4, 16, 16});
  auto b = BrownianTree::Create(5, 0.03, 14.6, {4, 16, 16});
  ASSERT_TRUE(a.ok() && b.ok());
  at::Tensor a1 = a->At(3.3), a2 = a->At(0.7);
  at::Tensor b2 = b->At(0.7), b1 = b->At(3.3);
  EXPECT_TRUE(at::equal(a1, b1));
  EXPECT_TRUE(at::equal(a2, b2));
  EXPECT_TRUE(at::equal(a->At(0.03), at::zeros({4, 16, 16})));
  auto other = BrownianTree::Create(6, 0.03, 14.6, {4, 16, 16});
  EXPECT_FALSE(at::equal(other->At(3.3), a1));
}

TEST(BrownianTree, IncrementsAreAdditive) {
  auto tree = BrownianTree::Create(9, 0.03, 14.6, {64});
  ASSERT_TRUE(tree.ok());
  const double s0 = 5.0, s1 = 2.5, s2 = 1.1;
  at::Tensor whole = tree->NormalizedIncrement(s0, s2) * std::sqrt(s0 - s2);
  at::Tensor parts = tree->NormalizedIncrement(s0, s1) * std::sqrt(s0 - s1) +
                     tree->NormalizedIncrement(s1, s2) * std::sqrt(s1 - s2);
  EXPECT_TRUE(at::allclose(whole, parts, 1e-5, 1e-5));
}

TEST(BrownianTree, IncrementsHaveUnitVarianceAndAreUncorrelated) {
  auto tree = BrownianTree::Create(1234, 0.0292, 14.6146, {4, 64, 64});  // 16384 samples
  ASSERT_TRUE(tree.ok());
  for (auto [from, to] : {std::pair{14.6146, 7.0}, std::pair{1.37, 1.05}, std::pair{0.05, 0.0292}}) {
    at::Tensor inc = tree->NormalizedIncrement(from, to);
    EXPECT_NEAR(inc.mean().item<double>(), 0.0, 0.05) << from << " -> " << to;
    EXPECT_NEAR(inc.var().item<double>(), 1.0, 0.06) << from << " -> " << to;
  }
  // Disjoint intervals are independent; overlapping ones correlate by overlap / sqrt(len * len).
  at::Tensor x = tree->NormalizedIncrement(3.0, 2.0), y = tree->NormalizedIncrement(2.0, 1.0);
  EXPECT_NEAR((x * y).mean().item<double>(), 0.0, 0.05);
  at::Tensor z = tree->NormalizedIncrement(3.0, 1.0);
  EXPECT_NEAR((x * z).mean().item<double>(), 1.0 / std::sqrt(2.0), 0.05);
}

TEST(BrownianTree, RejectsAnEmptyInterval) {
  EXPECT_FALSE(BrownianTree::Create(1, 2.0, 2.0, {4}).ok());
  EXPECT_FALSE(BrownianTree::Create(1, 0.0, 1.0, {0}).ok());
}

TEST(SeededNoise, BrownianIncrementsPerImageDoNotDependOnTheBatch) {
  SeededNoise batch(77, 2), second(78, 1);
  auto both = batch.BrownianIncrement({2, 4, 8, 8}, kFloat, 3.0, 2.0, 0.03, 14.6);
  auto one = second.BrownianIncrement({1, 4, 8, 8}, kFloat, 3.0, 2.0, 0.03, 14.6);
  ASSERT_TRUE(both.ok() && one.ok());
  EXPECT_TRUE(at::equal((*both)[1], (*one)[0]));
  EXPECT_FALSE(at::equal((*both)[0], (*both)[1]));
}

}  // namespace
}  // namespace farm::sd
