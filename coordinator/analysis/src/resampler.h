// Uniform index draws for the bootstrap, identical on every standard library.
// std::uniform_int_distribution is implementation-defined, so a CI printed by a farmctl
// built with libc++ would differ from one built with libstdc++; Lemire's multiply-shift
// with rejection is unbiased and fully specified.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>

namespace farm::analysis {

class Resampler {
 public:
  explicit Resampler(std::uint64_t seed) : rng_(seed) {}

  // Uniform in [0, n); n > 0.
  std::uint64_t Index(std::uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(rng_()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(rng_()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  // Mean of one resample (n draws with replacement) of values; values non-empty.
  double ResampleMean(std::span<const double> values) {
    const std::uint64_t n = values.size();
    double sum = 0.0;
    for (std::uint64_t i = 0; i < n; ++i) sum += values[Index(n)];
    return sum / static_cast<double>(n);
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace farm::analysis
