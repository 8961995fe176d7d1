// What a sweep's parameters do to the score: marginal means per value, effect sizes and
// their ranking, two-way tables and success rates (issue 14 §2, `farmctl effects`).
// Pure math on a ScoredTable; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "farm/analysis/bootstrap.h"
#include "farm/analysis/proportion.h"
#include "farm/analysis/scored_table.h"
#include "farm/schemas/status.h"

namespace farm::analysis {

// One value of one parameter.
struct LevelSummary {
  std::string value;
  std::size_t renders = 0;  // rows with this value, scored or not
  MeanCi score;             // over the rows with a score (score.n of them)
};

// Marginal means of one parameter, in OrderedLevels order, and its effect size.
struct ParameterEffect {
  std::string name;
  std::vector<LevelSummary> levels;
  // Effect size: eta squared = SS_between / SS_total over the scored rows, i.e. the share
  // of the score's variance explained by this parameter alone (0..1). NaN when fewer than
  // two levels have a score or every score is equal.
  double eta_squared = kNaN;
  // max - min of the level means (score units), for reading next to eta squared.
  double range = kNaN;
};

struct ConstantParameter {
  std::string name;
  std::string value;
};

struct EffectsOptions {
  BootstrapOptions bootstrap;  // for the per-value intervals
  // 0: unlimited. Otherwise the most index draws (resamples x scored renders bootstrapped)
  // one parameter's intervals may cost; a parameter over it gets normal intervals for every
  // value. A parameter with hundreds of small values (500 seeds in a 100k-render sweep:
  // 2000 x 100k = 2e8 draws, seconds) would otherwise dominate `farmctl effects`.
  std::size_t bootstrap_draw_budget = 0;
};

struct EffectsSummary {
  std::size_t rows = 0;
  std::size_t scored = 0;          // rows with a score
  double grand_mean = kNaN;        // mean over scored rows
  // Parameters with two or more values, eta squared descending (NaN last, ties by name).
  std::vector<ParameterEffect> ranked;
  // Parameters with one value in every row: listed, not ranked.
  std::vector<ConstantParameter> constant;
};

// Marginal means of parameter `parameter` (an index into table.parameter_names).
ParameterEffect MarginalMeans(const ScoredTable& table, std::size_t parameter,
                              const BootstrapOptions& options = {});

// Every parameter of the table: InvalidArgument when the table is malformed.
StatusOr<EffectsSummary> AnalyseEffects(const ScoredTable& table, const EffectsOptions& options = {});

// Mean score per (row value, column value) cell; cells with no scored render have n == 0
// and a NaN mean.
struct TwoWayCell {
  std::size_t n = 0;  // scored renders in the cell
  double mean = kNaN;
};
struct TwoWayTable {
  std::string row_parameter;
  std::string column_parameter;
  std::vector<std::string> row_values;     // OrderedLevels order
  std::vector<std::string> column_values;  // OrderedLevels order
  std::vector<std::vector<TwoWayCell>> cells;  // [row][column]
};
// NotFound when a name is not a parameter of the table; InvalidArgument when they are equal.
StatusOr<TwoWayTable> TwoWay(const ScoredTable& table, std::string_view row_parameter,
                             std::string_view column_parameter);

// Success per value of a parameter (e.g. pose): a render succeeds when a face was found
// and its score >= threshold. The denominator is the renders of that value that were
// scored (face_found not kFaceUnknown); the interval is Wilson's.
struct LevelProportion {
  std::string value;
  Proportion success;
};
std::vector<LevelProportion> SuccessRates(const ScoredTable& table, std::size_t parameter,
                                          double threshold, double level = 0.95);

}  // namespace farm::analysis
