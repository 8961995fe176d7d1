// Confidence intervals for means by the percentile bootstrap.
//
// Pure math on vectors: no database, no I/O. Every function is deterministic given its
// options' seed (a std::mt19937_64 and our own unbiased index draw, not
// std::uniform_int_distribution, whose output differs between standard libraries), so a
// report or a nightly gate printed twice shows the same interval.
// Thread-safety: every function is pure; call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace farm::analysis {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A two-sided interval; both ends NaN when the data cannot give one (fewer than two values).
struct Interval {
  double low = kNaN;
  double high = kNaN;

  bool valid() const { return low == low && high == high; }  // not NaN
  bool Contains(double x) const { return valid() && low <= x && x <= high; }
};

enum class CiMethod {
  kNone,       // fewer than two values: no interval
  kBootstrap,  // percentile bootstrap of the mean
  kNormal,     // mean ± z·sd/√n (used above BootstrapOptions::normal_above values)
};

// "bootstrap", "normal" or "none" (JSON and text output).
const char* CiMethodName(CiMethod method);

struct BootstrapOptions {
  // Resamples drawn. More steadies the interval's ends (Monte Carlo error shrinks as
  // 1/√resamples); cost is resamples × n index draws.
  int resamples = 2000;
  // Two-sided coverage, in (0, 1).
  double level = 0.95;
  // Seed of the resampling generator: the same data and seed give the same interval.
  std::uint64_t seed = 20240601;
  // 0: always bootstrap. Otherwise a sample of more than this many values gets the normal
  // interval mean ± z·sd/√n instead: at that size the bootstrap distribution of the mean is
  // normal to within its own Monte Carlo noise, and it keeps `farmctl effects` over 100k
  // renders well under a second.
  std::size_t normal_above = 0;
};

// A sample mean with its interval.
struct MeanCi {
  std::size_t n = 0;
  double mean = kNaN;    // NaN when n == 0
  double stddev = kNaN;  // sample standard deviation (n - 1 denominator); NaN when n < 2
  Interval ci;           // NaN ends when n < 2 (one value says nothing about spread)
  CiMethod method = CiMethod::kNone;
};

// The mean of `values` with a percentile-bootstrap interval (the (1-level)/2 and
// (1+level)/2 quantiles of the resampled means, linear interpolation between order
// statistics). n == 0: everything NaN; n == 1: mean only.
MeanCi BootstrapMean(std::span<const double> values, const BootstrapOptions& options = {});

// Difference of two independent samples' means, delta = mean(b) - mean(a), with a percentile
// bootstrap interval from resampling each side independently (a and b use different streams
// of the one seed).
struct DeltaCi {
  MeanCi a;
  MeanCi b;
  double delta = kNaN;  // b.mean - a.mean
  Interval ci;          // NaN ends when either side has fewer than two values
  CiMethod method = CiMethod::kNone;
};
DeltaCi BootstrapDelta(std::span<const double> a, std::span<const double> b,
                       const BootstrapOptions& options = {});

// Paired comparison: `differences[i]` = b_i - a_i for the i-th matched pair. The result is
// the bootstrap mean of the differences (n = pairs). Pairing removes the between-render
// spread (seed, pose) that an unpaired delta carries, so its interval is usually narrower.
MeanCi PairedDelta(std::span<const double> differences, const BootstrapOptions& options = {});

// Sample standard deviation (n - 1 denominator); NaN when fewer than two values.
double SampleStdDev(std::span<const double> values, double mean);

// Quantile of sorted data, linear interpolation between order statistics (R's type 7):
// position p·(n-1). `sorted` must be ascending and non-empty; p in [0, 1].
double SortedQuantile(std::span<const double> sorted, double p);

}  // namespace farm::analysis
