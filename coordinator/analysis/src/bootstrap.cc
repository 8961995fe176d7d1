#include "farm/analysis/bootstrap.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "farm/analysis/proportion.h"
#include "resampler.h"

namespace farm::analysis {
namespace {

// Distinct stream for the delta's resampling, so that BootstrapDelta's interval does not
// reuse the draws that gave each side's own interval.
constexpr std::uint64_t kDeltaStream = 0x9e3779b97f4a7c15ULL;

double Mean(std::span<const double> values) {
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

bool UseNormal(std::size_t n, const BootstrapOptions& options) {
  return options.normal_above != 0 && n > options.normal_above;
}

double Alpha(const BootstrapOptions& options) { return 1.0 - options.level; }

Interval PercentileInterval(std::vector<double>& resampled, const BootstrapOptions& options) {
  std::sort(resampled.begin(), resampled.end());
  const double alpha = Alpha(options);
  return {SortedQuantile(resampled, alpha / 2), SortedQuantile(resampled, 1 - alpha / 2)};
}

}  // namespace

const char* CiMethodName(CiMethod method) {
  switch (method) {
    case CiMethod::kBootstrap: return "bootstrap";
    case CiMethod::kNormal: return "normal";
    case CiMethod::kNone: break;
  }
  return "none";
}

double SampleStdDev(std::span<const double> values, double mean) {
  if (values.size() < 2) return kNaN;
  double ss = 0.0;
  for (double v : values) ss += (v - mean) * (v - mean);
  return std::sqrt(ss / static_cast<double>(values.size() - 1));
}

double SortedQuantile(std::span<const double> sorted, double p) {
  assert(!sorted.empty());
  const double position = p * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

MeanCi BootstrapMean(std::span<const double> values, const BootstrapOptions& options) {
  MeanCi out;
  out.n = values.size();
  if (values.empty()) return out;
  out.mean = Mean(values);
  out.stddev = SampleStdDev(values, out.mean);
  if (values.size() < 2 || options.resamples < 1) return out;
  if (UseNormal(values.size(), options)) {
    const double half = NormalQuantile(1 - Alpha(options) / 2) * out.stddev /
                        std::sqrt(static_cast<double>(values.size()));
    out.ci = {out.mean - half, out.mean + half};
    out.method = CiMethod::kNormal;
    return out;
  }
  Resampler resampler(options.seed);
  std::vector<double> means(static_cast<std::size_t>(options.resamples));
  for (double& m : means) m = resampler.ResampleMean(values);
  out.ci = PercentileInterval(means, options);
  out.method = CiMethod::kBootstrap;
  return out;
}

DeltaCi BootstrapDelta(std::span<const double> a, std::span<const double> b,
                       const BootstrapOptions& options) {
  DeltaCi out;
  out.a = BootstrapMean(a, options);
  out.b = BootstrapMean(b, options);
  if (a.empty() || b.empty()) return out;
  out.delta = out.b.mean - out.a.mean;
  if (a.size() < 2 || b.size() < 2 || options.resamples < 1) return out;
  if (UseNormal(a.size(), options) || UseNormal(b.size(), options)) {
    const double se = std::sqrt(out.a.stddev * out.a.stddev / static_cast<double>(a.size()) +
                                out.b.stddev * out.b.stddev / static_cast<double>(b.size()));
    const double half = NormalQuantile(1 - Alpha(options) / 2) * se;
    out.ci = {out.delta - half, out.delta + half};
    out.method = CiMethod::kNormal;
    return out;
  }
  Resampler resampler(options.seed ^ kDeltaStream);
  std::vector<double> deltas(static_cast<std::size_t>(options.resamples));
  for (double& d : deltas) {
    const double mean_a = resampler.ResampleMean(a);
    d = resampler.ResampleMean(b) - mean_a;
  }
  out.ci = PercentileInterval(deltas, options);
  out.method = CiMethod::kBootstrap;
  return out;
}

MeanCi PairedDelta(std::span<const double> differences, const BootstrapOptions& options) {
  return BootstrapMean(differences, options);
}

}  // namespace farm::analysis
