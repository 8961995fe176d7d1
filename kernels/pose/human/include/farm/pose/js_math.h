// JavaScript's rounding as human's code uses it, so decisions flip exactly where the
// reference's do.
#pragma once

#include <cmath>

namespace farm::pose {

// Math.round: the nearest integer, halves toward +infinity (Math.round(-2.5) == -2).
inline double JsRound(double x) {
  if (!std::isfinite(x)) return x;
  const double down = std::floor(x);
  return x - down >= 0.5 ? down + 1 : down;
}

// Math.round(100 * v) / 100: human's two-decimal scores.
inline double Round2(double v) { return JsRound(100 * v) / 100; }

// Math.trunc.
inline double JsTrunc(double x) { return std::trunc(x); }

}  // namespace farm::pose
