// JavaScript number semantics the face-api port must reproduce bit for bit.
#pragma once

#include <cmath>

namespace farm::faceid::internal {

// JS Math.round: the nearest integer, halves rounded up (towards +infinity).
inline double JsRound(double x) {
  const double f = std::floor(x);
  return (x - f >= 0.5) ? f + 1.0 : f;
}

}  // namespace farm::faceid::internal
