// Proportions (face-found rate, pose success rate) with Wilson score intervals.
// Pure math; thread-safe.
#pragma once

#include <cstddef>

#include "farm/analysis/bootstrap.h"

namespace farm::analysis {

// Standard normal quantile: the z with P(Z <= z) = p, for p in (0, 1) (Acklam's rational
// approximation refined by one Halley step: relative error below 1e-12). NaN outside (0, 1).
double NormalQuantile(double p);

// Wilson score interval for `successes` out of `n` at two-sided `level` (e.g. 0.95).
// Unlike the Wald interval it stays inside [0, 1] and is sensible at 0/n and n/n.
// n == 0: NaN ends. Example: 8 of 10 at 95 % -> [0.490, 0.943].
Interval Wilson(std::size_t successes, std::size_t n, double level = 0.95);

// A counted share with its Wilson interval.
struct Proportion {
  std::size_t successes = 0;
  std::size_t n = 0;
  double rate = kNaN;  // successes / n; NaN when n == 0
  Interval ci;
};
Proportion MakeProportion(std::size_t successes, std::size_t n, double level = 0.95);

}  // namespace farm::analysis
