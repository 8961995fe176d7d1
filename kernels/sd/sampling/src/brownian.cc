#include "farm/sd/brownian.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

namespace farm::sd {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

StatusOr<BrownianTree> BrownianTree::Create(uint64_t seed, double t0, double t1,
                                            std::vector<int64_t> shape) {
  if (!(std::isfinite(t0) && std::isfinite(t1) && t0 < t1)) {
    return InvalidArgument("Brownian tree needs a finite interval t0 < t1, got [" +
                           std::to_string(t0) + ", " + std::to_string(t1) + "]");
  }
  for (int64_t d : shape) {
    if (d <= 0) return InvalidArgument("Brownian tree shape must have positive dimensions");
  }
  BrownianTree tree;
  tree.seed_ = seed;
  tree.t0_ = t0;
  tree.t1_ = t1;
  tree.shape_ = std::move(shape);
  try {
    tree.w_t1_ = tree.Normal(0) * std::sqrt(t1 - t0);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("Brownian tree: ") + e.what());
  }
  return tree;
}

at::Tensor BrownianTree::Normal(uint64_t node) const {
  at::Generator generator = at::detail::createCPUGenerator(SplitMix64(seed_ ^ SplitMix64(node)));
  return at::randn(shape_, generator, at::TensorOptions().dtype(at::kFloat));
}

at::Tensor BrownianTree::At(double t) const {
  t = std::clamp(t, t0_, t1_);
  if (t == t0_) return at::zeros(shape_, at::TensorOptions().dtype(at::kFloat));
  if (t == t1_) return w_t1_.clone();
  double a = t0_, b = t1_;
  at::Tensor wa = at::zeros(shape_, at::TensorOptions().dtype(at::kFloat));
  at::Tensor wb = w_t1_;
  uint64_t node = 1;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    const double m = 0.5 * (a + b);
    at::Tensor wm = (wa + wb) * 0.5 + Normal(node) * std::sqrt(0.25 * (b - a));
    if (t == m) return wm;
    if (t < m) {
      b = m;
      wb = wm;
      node = 2 * node;
    } else {
      a = m;
      wa = wm;
      node = 2 * node + 1;
    }
  }
  const double w = (t - a) / (b - a);
  return wa + (wb - wa) * w;
}

at::Tensor BrownianTree::NormalizedIncrement(double from, double to) const {
  const double from_c = std::clamp(from, t0_, t1_), to_c = std::clamp(to, t0_, t1_);
  if (from_c == to_c) return at::zeros(shape_, at::TensorOptions().dtype(at::kFloat));
  return (At(to_c) - At(from_c)) / std::sqrt(std::abs(to_c - from_c));
}

}  // namespace farm::sd
