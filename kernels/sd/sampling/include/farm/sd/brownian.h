// A seeded Brownian motion W over an interval [t0, t1] (the sigma range of a run) for
// SDE samplers. Any W(t) can be asked for in any order and always gets the same value,
// so the noise a step sees does not depend on the step sizes or on which other points
// were asked for before (the property k-diffusion gets from torchsde's BrownianTree;
// the values here are our own and do not reproduce torchsde's).
//
// Construction (a binary tree of Brownian bridges):
//  * W(t0) = 0 and W(t1) = sqrt(t1 - t0) * Z(0).
//  * Node n (the root is 1, the children of n are 2n and 2n+1) owns an interval [a, b]
//    whose end values are known; its midpoint m = (a + b) / 2 gets the Brownian-bridge
//    value W(m) = (W(a) + W(b)) / 2 + sqrt((b - a) / 4) * Z(n), and its children own
//    [a, m] and [m, b].
//  * W(t) descends from the root towards t, at most kMaxDepth levels; t equal to a
//    visited point returns that point's value; below the last level W is interpolated
//    linearly between the leaf's ends (the missing bridge variance is at most
//    (t1 - t0) / 2^(kMaxDepth + 2), far below the smallest step of a schedule).
//  * Z(k) is a standard normal tensor of the given shape drawn by at::randn from a
//    fresh CPU generator seeded with splitmix64(seed ^ splitmix64(k)), k = the node
//    number (0 for W(t1)). Values therefore depend only on
//    (seed, t0, t1, shape, t).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::sd {

class BrownianTree {
 public:
  static constexpr int kMaxDepth = 24;

  // InvalidArgument unless t0 < t1 (both finite) and every dimension is positive.
  static StatusOr<BrownianTree> Create(uint64_t seed, double t0, double t1,
                                       std::vector<int64_t> shape);

  // W(t) as a float32 CPU tensor; t is clamped to [t0, t1].
  at::Tensor At(double t) const;
  // (W(to) - W(from)) / sqrt(|to - from|): unit-variance noise for a step from -> to;
  // zeros when from == to.
  at::Tensor NormalizedIncrement(double from, double to) const;

  uint64_t seed() const { return seed_; }
  double t0() const { return t0_; }
  double t1() const { return t1_; }
  const std::vector<int64_t>& shape() const { return shape_; }

 private:
  at::Tensor Normal(uint64_t node) const;

  uint64_t seed_ = 0;
  double t0_ = 0, t1_ = 1;
  std::vector<int64_t> shape_;
  at::Tensor w_t1_;  // W(t1)
};

// A 64-bit mixing function (splitmix64 finaliser): decorrelates nearby seeds.
uint64_t SplitMix64(uint64_t x);

}  // namespace farm::sd
