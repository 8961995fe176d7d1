#include "farm/analysis/effects.h"

#include <algorithm>
#include <cmath>

#include "level_index.h"

namespace farm::analysis {
namespace {

bool HasScore(double score) { return !std::isnan(score); }

// Eta squared from the level means: SS_between / SS_total over every scored row.
double EtaSquared(const std::vector<std::vector<double>>& by_level) {
  std::size_t n = 0;
  double sum = 0.0;
  std::size_t scored_levels = 0;
  for (const auto& scores : by_level) {
    for (double s : scores) sum += s;
    n += scores.size();
    if (!scores.empty()) ++scored_levels;
  }
  if (scored_levels < 2) return kNaN;
  const double grand = sum / static_cast<double>(n);
  double ss_between = 0.0;
  double ss_total = 0.0;
  for (const auto& scores : by_level) {
    if (scores.empty()) continue;
    double level_sum = 0.0;
    for (double s : scores) {
      level_sum += s;
      ss_total += (s - grand) * (s - grand);
    }
    const double level_mean = level_sum / static_cast<double>(scores.size());
    ss_between += static_cast<double>(scores.size()) * (level_mean - grand) * (level_mean - grand);
  }
  if (ss_total <= 0.0) return kNaN;
  return ss_between / ss_total;
}

// options.bootstrap, or the same with normal intervals for every value when bootstrapping
// this parameter's values would cost more than the draw budget.
BootstrapOptions BootstrapFor(const ScoredTable& table, std::size_t parameter, const EffectsOptions& options) {
  BootstrapOptions out = options.bootstrap;
  if (options.bootstrap_draw_budget == 0) return out;
  const LevelIndex index = IndexLevels(table.values[parameter]);
  std::vector<std::size_t> scored(index.levels.size(), 0);
  for (std::size_t row = 0; row < table.rows(); ++row) {
    if (HasScore(table.scores[row])) ++scored[index.row_level[row]];
  }
  double draws = 0;
  for (std::size_t n : scored) {
    const bool bootstrapped = n >= 2 && (out.normal_above == 0 || n <= out.normal_above);
    if (bootstrapped) draws += static_cast<double>(n) * out.resamples;
  }
  if (draws > static_cast<double>(options.bootstrap_draw_budget)) out.normal_above = 1;
  return out;
}

}  // namespace

ParameterEffect MarginalMeans(const ScoredTable& table, std::size_t parameter,
                              const BootstrapOptions& options) {
  ParameterEffect out;
  out.name = table.parameter_names[parameter];
  const LevelIndex index = IndexLevels(table.values[parameter]);
  std::vector<std::vector<double>> by_level(index.levels.size());
  std::vector<std::size_t> renders(index.levels.size(), 0);
  for (std::size_t row = 0; row < table.rows(); ++row) {
    const std::uint32_t level = index.row_level[row];
    ++renders[level];
    if (HasScore(table.scores[row])) by_level[level].push_back(table.scores[row]);
  }
  double low = kNaN;
  double high = kNaN;
  for (std::size_t l = 0; l < index.levels.size(); ++l) {
    LevelSummary summary;
    summary.value = index.levels[l];
    summary.renders = renders[l];
    summary.score = BootstrapMean(by_level[l], options);
    if (summary.score.n > 0) {
      low = std::isnan(low) ? summary.score.mean : std::min(low, summary.score.mean);
      high = std::isnan(high) ? summary.score.mean : std::max(high, summary.score.mean);
    }
    out.levels.push_back(std::move(summary));
  }
  out.eta_squared = EtaSquared(by_level);
  out.range = high - low;
  return out;
}

StatusOr<EffectsSummary> AnalyseEffects(const ScoredTable& table, const EffectsOptions& options) {
  FARM_RETURN_IF_ERROR(table.Validate());
  EffectsSummary out;
  out.rows = table.rows();
  double sum = 0.0;
  for (double s : table.scores) {
    if (!HasScore(s)) continue;
    sum += s;
    ++out.scored;
  }
  if (out.scored > 0) out.grand_mean = sum / static_cast<double>(out.scored);
  for (std::size_t p = 0; p < table.parameter_names.size(); ++p) {
    const auto& column = table.values[p];
    const bool constant =
        std::all_of(column.begin(), column.end(), [&](const std::string& v) { return v == column.front(); });
    if (constant) {
      out.constant.push_back({table.parameter_names[p], column.empty() ? "" : column.front()});
      continue;
    }
    out.ranked.push_back(MarginalMeans(table, p, BootstrapFor(table, p, options)));
  }
  std::stable_sort(out.ranked.begin(), out.ranked.end(),
                   [](const ParameterEffect& x, const ParameterEffect& y) {
                     const bool x_nan = std::isnan(x.eta_squared);
                     const bool y_nan = std::isnan(y.eta_squared);
                     if (x_nan != y_nan) return y_nan;
                     if (!x_nan && x.eta_squared != y.eta_squared) return x.eta_squared > y.eta_squared;
                     return x.name < y.name;
                   });
  return out;
}

StatusOr<TwoWayTable> TwoWay(const ScoredTable& table, std::string_view row_parameter,
                             std::string_view column_parameter) {
  FARM_RETURN_IF_ERROR(table.Validate());
  const int r = table.FindParameter(row_parameter);
  const int c = table.FindParameter(column_parameter);
  if (r < 0 || c < 0) {
    return NotFound("two-way table: '" + std::string(r < 0 ? row_parameter : column_parameter) +
                    "' is not a parameter of these renders");
  }
  if (r == c) {
    return InvalidArgument("two-way table: needs two different parameters, got '" +
                           std::string(row_parameter) + "' twice");
  }
  TwoWayTable out;
  out.row_parameter = std::string(row_parameter);
  out.column_parameter = std::string(column_parameter);
  const LevelIndex rows = IndexLevels(table.values[r]);
  const LevelIndex columns = IndexLevels(table.values[c]);
  out.row_values = rows.levels;
  out.column_values = columns.levels;
  std::vector<std::vector<double>> sums(rows.levels.size(), std::vector<double>(columns.levels.size()));
  out.cells.assign(rows.levels.size(), std::vector<TwoWayCell>(columns.levels.size()));
  for (std::size_t row = 0; row < table.rows(); ++row) {
    if (!HasScore(table.scores[row])) continue;
    const auto i = rows.row_level[row];
    const auto j = columns.row_level[row];
    sums[i][j] += table.scores[row];
    ++out.cells[i][j].n;
  }
  for (std::size_t i = 0; i < out.cells.size(); ++i) {
    for (std::size_t j = 0; j < out.cells[i].size(); ++j) {
      TwoWayCell& cell = out.cells[i][j];
      if (cell.n > 0) cell.mean = sums[i][j] / static_cast<double>(cell.n);
    }
  }
  return out;
}

std::vector<LevelProportion> SuccessRates(const ScoredTable& table, std::size_t parameter,
                                          double threshold, double level) {
  const LevelIndex index = IndexLevels(table.values[parameter]);
  std::vector<std::size_t> successes(index.levels.size(), 0);
  std::vector<std::size_t> scored(index.levels.size(), 0);
  for (std::size_t row = 0; row < table.rows(); ++row) {
    if (table.face_found[row] == kFaceUnknown) continue;
    const auto l = index.row_level[row];
    ++scored[l];
    if (table.face_found[row] == kFace && HasScore(table.scores[row]) &&
        table.scores[row] >= threshold) {
      ++successes[l];
    }
  }
  std::vector<LevelProportion> out;
  for (std::size_t l = 0; l < index.levels.size(); ++l) {
    out.push_back({index.levels[l], MakeProportion(successes[l], scored[l], level)});
  }
  return out;
}

}  // namespace farm::analysis
