#include "effects_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "analysis_json.h"
#include "analysis_rows.h"
#include "farm/analysis/effects.h"
#include "farm/query/catalog.h"
#include "farm/store/store.h"
#include "render_files.h"
#include "render_query_run.h"

namespace farmctl {
namespace {

using farm::analysis::EffectsSummary;
using farm::analysis::ParameterEffect;
using Json = nlohmann::ordered_json;

struct EffectsArgs {
  std::string sweep;
  std::vector<std::string> by;
  std::string where;
  double threshold = 0.5;
  double level = 0.95;
  int resamples = 2000;
  std::uint64_t seed = farm::analysis::BootstrapOptions{}.seed;
  std::size_t normal_above = 500;
  std::size_t draw_budget = 20'000'000;
};

// Column names as the catalogue spells them (the query language is case-insensitive for
// names, the output columns are not); params.<path> is kept as written.
farm::StatusOr<std::vector<std::string>> CanonicalColumns(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    const farm::query::ColumnInfo* column = farm::query::FindRenderColumn(name);
    std::string canonical = column == nullptr || farm::query::IsParamsColumn(*column) ? name : column->name;
    if (std::find(out.begin(), out.end(), canonical) != out.end()) {
      return farm::InvalidArgument("--by names '" + canonical + "' twice");
    }
    out.push_back(std::move(canonical));
  }
  return out;
}

// Truncates long values (prompts) for the text table.
std::string Cell(const std::string& value) {
  constexpr std::size_t kMax = 40;
  return value.size() <= kMax ? value : value.substr(0, kMax - 3) + "...";
}

Json EffectJson(const ParameterEffect& effect, std::size_t rank) {
  Json levels = Json::array();
  for (const auto& level : effect.levels) {
    Json item = {{"value", level.value}, {"renders", level.renders}};
    const Json score = MeanCiJson(level.score);
    for (const auto& [key, value] : score.items()) item[key] = value;
    levels.push_back(std::move(item));
  }
  return Json{{"name", effect.name},
              {"rank", rank},
              {"eta_squared", NumberOrNull(effect.eta_squared)},
              {"range", NumberOrNull(effect.range)},
              {"levels", std::move(levels)}};
}

Json TwoWayJson(const farm::analysis::TwoWayTable& table) {
  Json cells = Json::array();
  for (const auto& row : table.cells) {
    Json out_row = Json::array();
    for (const auto& cell : row) out_row.push_back({{"n", cell.n}, {"mean", NumberOrNull(cell.mean)}});
    cells.push_back(std::move(out_row));
  }
  return Json{{"rows", table.row_parameter},
              {"columns", table.column_parameter},
              {"row_values", table.row_values},
              {"column_values", table.column_values},
              {"cells", std::move(cells)}};
}

void PrintText(const EffectsArgs& args, std::int64_t sweep_id, const EffectsSummary& summary,
               const std::optional<farm::analysis::TwoWayTable>& two_way,
               const std::vector<farm::analysis::LevelProportion>& poses) {
  const std::string level_text = Fixed(100 * args.level, 0) + "%";
  std::cout << "sweep " << sweep_id << ": " << summary.rows << " renders, " << summary.scored
            << " scored, mean score " << Fixed(summary.grand_mean) << "\n";
  std::cout << "Effect size: eta squared (share of the score's variance explained by the parameter "
               "alone); range: highest minus lowest value mean.\n\n";
  if (summary.ranked.empty()) std::cout << "No parameter varies.\n";
  std::vector<std::vector<std::string>> ranking = {{"rank", "parameter", "values", "eta2", "range"}};
  for (std::size_t i = 0; i < summary.ranked.size(); ++i) {
    const ParameterEffect& e = summary.ranked[i];
    ranking.push_back({std::to_string(i + 1), e.name, std::to_string(e.levels.size()), Fixed(e.eta_squared),
                       Fixed(e.range)});
  }
  if (!summary.ranked.empty()) PrintTable(ranking);
  for (const ParameterEffect& e : summary.ranked) {
    std::cout << "\n" << e.name << " (eta2 " << Fixed(e.eta_squared) << ", range " << Fixed(e.range) << ")\n";
    std::vector<std::vector<std::string>> rows = {
        {"  value", "renders", "n", "mean", level_text + " CI", "ci"}};
    for (const auto& level : e.levels) {
      rows.push_back({"  " + Cell(level.value), std::to_string(level.renders), std::to_string(level.score.n),
                      Fixed(level.score.mean), IntervalText(level.score.ci),
                      farm::analysis::CiMethodName(level.score.method)});
    }
    PrintTable(rows);
  }
  if (!summary.constant.empty()) {
    std::cout << "\nConstant (not ranked):";
    for (const auto& c : summary.constant) std::cout << " " << c.name << " = " << Cell(c.value) << ";";
    std::cout << "\n";
  }
  if (two_way) {
    std::cout << "\nMean score by " << two_way->row_parameter << " x " << two_way->column_parameter
              << " (n in parentheses):\n";
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {"  " + two_way->row_parameter + " \\ " + two_way->column_parameter};
    for (const auto& v : two_way->column_values) header.push_back(Cell(v));
    rows.push_back(std::move(header));
    for (std::size_t i = 0; i < two_way->row_values.size(); ++i) {
      std::vector<std::string> row = {"  " + Cell(two_way->row_values[i])};
      for (const auto& cell : two_way->cells[i]) row.push_back(Fixed(cell.mean) + " (" + std::to_string(cell.n) + ")");
      rows.push_back(std::move(row));
    }
    PrintTable(rows);
  }
  std::cout << "\nPose success (face found and score >= " << Fixed(args.threshold, 2) << ", of scored renders; Wilson "
            << level_text << "):\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& pose : poses) rows.push_back({"  " + Cell(pose.value), ProportionText(pose.success)});
  PrintTable(rows);
}

int Run(const GlobalOptions& options, const EffectsArgs& args) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  if (!(args.level > 0 && args.level < 1)) {
    std::cerr << "farmctl effects: --level must be between 0 and 1 (got " << args.level << ")\n";
    return kExitUsage;
  }
  auto parameters = CanonicalColumns(args.by.empty() ? EffectsParameters() : args.by);
  if (!parameters.ok()) {
    std::cerr << "farmctl effects: " << parameters.status().message() << "\n";
    return kExitUsage;
  }
  auto store = farm::store::Store::Open(path, farm::store::OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto sweep_id = ResolveSweep(**store, args.sweep);
  if (!sweep_id.ok()) return ReportError(options, sweep_id.status());

  // pose is read even when not analysed, for the success rates.
  std::vector<std::string> columns = *parameters;
  const bool pose_analysed = std::find(columns.begin(), columns.end(), "pose") != columns.end();
  if (!pose_analysed) columns.push_back("pose");
  farm::query::RenderQuery query;
  query.sweep_ids = {*sweep_id};
  query.where = args.where;
  auto built = BuildAnalysisQuery(query, columns, "score");
  if (!built.ok()) return ReportQueryError(built.status());
  auto rows = LoadAnalysisRows(**store, *built, columns, "score");
  if (!rows.ok()) return ReportError(options, rows.status());
  farm::analysis::ScoredTable& table = rows->table;
  const std::size_t pose_index = static_cast<std::size_t>(table.FindParameter("pose"));
  const auto poses = farm::analysis::SuccessRates(table, pose_index, args.threshold, args.level);
  if (!pose_analysed) {
    table.parameter_names.pop_back();
    table.values.pop_back();
  }

  farm::analysis::EffectsOptions effects_options;
  effects_options.bootstrap.resamples = args.resamples;
  effects_options.bootstrap.level = args.level;
  effects_options.bootstrap.seed = args.seed;
  effects_options.bootstrap.normal_above = args.normal_above;
  effects_options.bootstrap_draw_budget = args.draw_budget;
  auto summary = farm::analysis::AnalyseEffects(table, effects_options);
  if (!summary.ok()) return ReportError(options, summary.status());
  std::optional<farm::analysis::TwoWayTable> two_way;
  if (parameters->size() == 2) {
    auto built = farm::analysis::TwoWay(table, (*parameters)[0], (*parameters)[1]);
    if (!built.ok()) return ReportError(options, built.status());
    two_way = std::move(*built);
  }

  if (!options.json) {
    PrintText(args, *sweep_id, *summary, two_way, poses);
    return kExitOk;
  }
  Json ranked = Json::array();
  for (std::size_t i = 0; i < summary->ranked.size(); ++i) ranked.push_back(EffectJson(summary->ranked[i], i + 1));
  Json constant = Json::array();
  for (const auto& c : summary->constant) constant.push_back({{"name", c.name}, {"value", c.value}});
  Json pose_json = Json::array();
  for (const auto& pose : poses) {
    Json item = {{"pose", pose.value}};
    const Json success = ProportionJson(pose.success);
    for (const auto& [key, value] : success.items()) item[key] = value;
    pose_json.push_back(std::move(item));
  }
  Json out = {{"ok", true},
              {"sweep", *sweep_id},
              {"where", args.where.empty() ? Json(nullptr) : Json(args.where)},
              {"renders", summary->rows},
              {"scored", summary->scored},
              {"mean_score", NumberOrNull(summary->grand_mean)},
              {"effect_size", "eta_squared"},
              {"level", args.level},
              {"resamples", args.resamples},
              {"seed", args.seed},
              {"normal_above", args.normal_above},
              {"bootstrap_budget", args.draw_budget},
              {"parameters", std::move(ranked)},
              {"constant", std::move(constant)},
              {"two_way", two_way ? TwoWayJson(*two_way) : Json(nullptr)},
              {"threshold", args.threshold},
              {"pose_success", std::move(pose_json)}};
  std::cout << out.dump(2) << "\n";
  return kExitOk;
}

}  // namespace

void AddEffectsCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<EffectsArgs>();
  CLI::App* effects = app.add_subcommand(
      "effects",
      "What a sweep's parameters do to the face-ID score: mean score per value with a bootstrap "
      "interval and n, parameters ranked by effect size (eta squared = between-value sum of squares "
      "/ total sum of squares: the share of the score's variance the parameter explains alone), "
      "constant parameters listed apart, a two-way table for exactly two --by parameters, and the "
      "per-pose success rate (face found and score >= --threshold, among scored renders; Wilson "
      "interval). Renders without a score (no face, not scored yet) are left out of means.");
  effects->add_option("SWEEP", args->sweep, "Sweep id or name")->required();
  effects->add_option("--by", args->by,
                      "Parameters to analyse, comma-separated (any render column, e.g. cfg,sampler or "
                      "params.stages[1].denoise; default: every render parameter but engine)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  effects->add_option("--where", args->where, "Only renders matching this filter (farmctl renders --help)");
  effects->add_option("--threshold", args->threshold, "Score a render needs to count as a pose success")
      ->capture_default_str();
  effects->add_option("--level", args->level, "Confidence level of the intervals")->capture_default_str();
  effects->add_option("--resamples", args->resamples, "Bootstrap resamples per interval")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  effects->add_option("--seed", args->seed, "Seed of the bootstrap (same seed, same intervals)")
      ->capture_default_str();
  effects->add_option("--normal-above", args->normal_above,
                      "Values with more scored renders than this get the normal interval mean +- "
                      "z*sd/sqrt(n) instead of the bootstrap (equal at that size, far cheaper); 0: "
                      "always bootstrap")
      ->capture_default_str();
  effects->add_option("--bootstrap-budget", args->draw_budget,
                      "Most bootstrap draws (resamples x renders) per parameter; a parameter over it, "
                      "such as hundreds of seeds, gets normal intervals for every value; 0: no limit")
      ->capture_default_str();
  effects->add_option("--db", options.db_path,
                      "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  effects->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
