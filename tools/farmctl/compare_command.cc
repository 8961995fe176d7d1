#include "compare_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "analysis_json.h"
#include "analysis_rows.h"
#include "farm/analysis/compare.h"
#include "farm/store/store.h"
#include "render_files.h"
#include "render_query_run.h"

namespace farmctl {
namespace {

using Json = nlohmann::ordered_json;

struct CompareArgs {
  std::string a;
  std::string b;
  std::vector<std::string> sweeps;  // scope of filter sides
  std::string metric = "score";
  double level = 0.95;
  int resamples = 2000;
  std::uint64_t seed = farm::analysis::BootstrapOptions{}.seed;
  std::size_t normal_above = 10000;
};

// One side as the user wrote it, resolved.
struct Side {
  std::string text;
  std::optional<std::int64_t> sweep_id;  // a sweep side
  std::string where;                     // a filter side
  AnalysisRows rows;
};

bool AllDigits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Reads one side. Returns kExitOk or the exit code after reporting.
int LoadSide(const GlobalOptions& options, farm::store::Store& store, const std::vector<std::int64_t>& scope,
             const std::string& metric, Side& side) {
  farm::query::RenderQuery query;
  if (AllDigits(side.text) || side.text.rfind("sweep:", 0) == 0) {
    const std::string name = AllDigits(side.text) ? side.text : side.text.substr(6);
    auto id = ResolveSweep(store, name);
    if (!id.ok()) return ReportError(options, id.status());
    side.sweep_id = *id;
    query.sweep_ids = {*id};
  } else {
    side.where = side.text;
    query.sweep_ids = scope;
    query.where = side.text;
  }
  auto built = BuildAnalysisQuery(query, AnalysisParameters(), metric);
  if (!built.ok()) return ReportQueryError(built.status());
  auto rows = LoadAnalysisRows(store, *built, AnalysisParameters(), metric);
  if (!rows.ok()) return ReportError(options, rows.status());
  side.rows = std::move(*rows);
  return kExitOk;
}

struct PairKeys {
  std::vector<std::string> on;      // parameters the pairs share
  std::vector<std::string> differ;  // parameters whose values differ between the sides
  bool by_param_hash = false;
  std::vector<std::string> a;
  std::vector<std::string> b;
};

std::set<std::string> Distinct(const std::vector<std::string>& column) {
  return std::set<std::string>(column.begin(), column.end());
}

std::vector<std::string> Keys(const farm::analysis::ScoredTable& table, const std::vector<int>& columns) {
  std::vector<std::string> keys(table.rows());
  for (std::size_t row = 0; row < table.rows(); ++row) {
    for (int c : columns) {
      keys[row] += table.values[c][row];
      keys[row] += '\x1f';  // unit separator: no value contains it
    }
  }
  return keys;
}

PairKeys ChoosePairKeys(const Side& a, const Side& b) {
  PairKeys out;
  std::vector<int> key_columns;
  const auto& names = a.rows.table.parameter_names;
  for (std::size_t p = 0; p < names.size(); ++p) {
    if (Distinct(a.rows.table.values[p]) == Distinct(b.rows.table.values[p])) {
      out.on.push_back(names[p]);
      key_columns.push_back(static_cast<int>(p));
    } else {
      out.differ.push_back(names[p]);
    }
  }
  if (out.differ.empty()) {
    // Nothing tells the sides apart but the evaluation: the same renders, paired by record.
    out.by_param_hash = true;
    out.on = {"param_hash"};
    out.a = a.rows.param_hashes;
    out.b = b.rows.param_hashes;
    return out;
  }
  out.a = Keys(a.rows.table, key_columns);
  out.b = Keys(b.rows.table, key_columns);
  return out;
}

farm::analysis::CompareSide ToCompareSide(const Side& side, std::vector<std::string> keys) {
  return {side.rows.table.scores, side.rows.table.face_found, std::move(keys)};
}

Json SideJson(const Side& side, const farm::analysis::SideSummary& summary) {
  return Json{{"input", side.text},
              {"sweep", side.sweep_id ? Json(*side.sweep_id) : Json(nullptr)},
              {"where", side.where.empty() ? Json(nullptr) : Json(side.where)},
              {"renders", summary.renders},
              {"score", MeanCiJson(summary.score)},
              {"face_found", ProportionJson(summary.face_found)}};
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string Signed(double value) { return (value > 0 ? "+" : "") + Fixed(value); }

void PrintText(const CompareArgs& args, const Side& a, const Side& b, const farm::analysis::Comparison& c,
               const PairKeys& keys) {
  const std::string level_text = Fixed(100 * args.level, 0) + "%";
  auto label = [](const Side& side) {
    return side.sweep_id ? "sweep " + std::to_string(*side.sweep_id) : "where " + side.where;
  };
  std::cout << "A: " << label(a) << "\nB: " << label(b) << "\n\n";
  std::vector<std::vector<std::string>> rows = {
      {"", "renders", "scored", "mean " + args.metric, level_text + " CI", "face found (Wilson " + level_text + ")"}};
  for (auto [name, s] : {std::pair{"A", &c.a}, std::pair{"B", &c.b}}) {
    rows.push_back({name, std::to_string(s->renders), std::to_string(s->score.n), Fixed(s->score.mean),
                    IntervalText(s->score.ci), ProportionText(s->face_found)});
  }
  PrintTable(rows);
  std::cout << "\ndelta B - A: " << Signed(c.delta.delta) << " " << IntervalText(c.delta.ci) << " ("
            << farm::analysis::CiMethodName(c.delta.method) << ", unpaired; " << args.resamples
            << " resamples, seed " << args.seed << ")\n";
  if (keys.by_param_hash) {
    std::cout << "paired on param_hash (both sides hold the same render records)";
  } else {
    std::cout << "paired on " << (keys.on.empty() ? "nothing" : Join(keys.on)) << " (differ: " << Join(keys.differ)
              << ")";
  }
  if (!c.paired) {
    std::cout << ": no pairs with a score on both sides; paired comparison not possible\n";
    return;
  }
  const auto& p = *c.paired;
  std::cout << ":\n  " << p.pairs << (p.pairs == 1 ? " pair, " : " pairs, ") << p.unpaired_a << " unpaired in A, " << p.unpaired_b
            << " unpaired in B, " << p.unscored_pairs << " pairs without a score on one side\n"
            << "  paired delta B - A: " << Signed(p.diff.mean) << " " << IntervalText(p.diff.ci) << " ("
            << farm::analysis::CiMethodName(p.diff.method) << ")\n";
}

int Run(const GlobalOptions& options, const CompareArgs& args) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  if (!(args.level > 0 && args.level < 1)) {
    std::cerr << "farmctl compare: --level must be between 0 and 1 (got " << args.level << ")\n";
    return kExitUsage;
  }
  auto store = farm::store::Store::Open(path, farm::store::OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto scope = ResolveSweeps(**store, args.sweeps);
  if (!scope.ok()) return ReportError(options, scope.status());
  Side a;
  a.text = args.a;
  Side b;
  b.text = args.b;
  if (int code = LoadSide(options, **store, *scope, args.metric, a); code != kExitOk) return code;
  if (int code = LoadSide(options, **store, *scope, args.metric, b); code != kExitOk) return code;

  farm::analysis::BootstrapOptions bootstrap;
  bootstrap.resamples = args.resamples;
  bootstrap.level = args.level;
  bootstrap.seed = args.seed;
  bootstrap.normal_above = args.normal_above;
  PairKeys keys = ChoosePairKeys(a, b);
  const farm::analysis::Comparison comparison =
      farm::analysis::Compare(ToCompareSide(a, keys.a), ToCompareSide(b, keys.b), bootstrap);

  if (!options.json) {
    PrintText(args, a, b, comparison, keys);
    return kExitOk;
  }
  Json paired = nullptr;
  if (comparison.paired) {
    const auto& p = *comparison.paired;
    paired = {{"pairs", p.pairs},
              {"unpaired_a", p.unpaired_a},
              {"unpaired_b", p.unpaired_b},
              {"unscored_pairs", p.unscored_pairs},
              {"delta", NumberOrNull(p.diff.mean)},
              {"sd", NumberOrNull(p.diff.stddev)},
              {"ci", IntervalJson(p.diff.ci)},
              {"ci_method", farm::analysis::CiMethodName(p.diff.method)}};
  }
  Json out = {{"ok", true},
              {"metric", args.metric},
              {"level", args.level},
              {"resamples", args.resamples},
              {"seed", args.seed},
              {"normal_above", args.normal_above},
              {"a", SideJson(a, comparison.a)},
              {"b", SideJson(b, comparison.b)},
              {"delta",
               {{"value", NumberOrNull(comparison.delta.delta)},
                {"ci", IntervalJson(comparison.delta.ci)},
                {"ci_method", farm::analysis::CiMethodName(comparison.delta.method)}}},
              {"pairing", {{"on", keys.on}, {"differ", keys.differ}, {"by_param_hash", keys.by_param_hash}}},
              {"paired", std::move(paired)}};
  std::cout << out.dump(2) << "\n";
  return kExitOk;
}

}  // namespace

void AddCompareCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* compare = app.add_subcommand(
      "compare",
      "Compare two sets of renders on the face-ID score. A and B are each a sweep (a bare id such "
      "as 3, or sweep:NAME) or a render filter in the --where language (e.g. \"sampler = 'Euler a'\", "
      "over --sweep when given, else every sweep). Prints per side renders, mean score with a "
      "percentile-bootstrap interval and the face-found rate with a Wilson interval; the delta B - A "
      "with a bootstrap interval; and a paired comparison when renders pair up: pairs share every "
      "parameter whose set of values is the same on both sides (seed, pose, prompt, ...), i.e. all "
      "but what tells A from B, or param_hash when nothing does (the same renders evaluated twice). "
      "Example: farmctl compare --sweep 3 \"sampler = 'Euler a'\" \"sampler = 'DPM++ 2M'\"");
  compare->add_option("A", args->a, "First side: sweep id, sweep:NAME or a filter expression")->required();
  compare->add_option("B", args->b, "Second side (the delta is B - A)")->required();
  compare->add_option("--sweep", args->sweeps, "Sweep id or name that filter sides read from (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);  // never swallows A and B
  compare->add_option("--metric", args->metric, "score (cosine similarity) or euclidean")
      ->check(CLI::IsMember({"score", "euclidean"}))
      ->capture_default_str();
  compare->add_option("--level", args->level, "Confidence level of the intervals")->capture_default_str();
  compare->add_option("--resamples", args->resamples, "Bootstrap resamples")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  compare->add_option("--seed", args->seed, "Seed of the bootstrap (same seed, same intervals)")
      ->capture_default_str();
  compare->add_option("--normal-above", args->normal_above,
                      "Samples of more scores than this get the normal interval (mean +- z*sd/sqrt(n); "
                      "the bootstrap's own answer at that size, without its cost); 0: always bootstrap")
      ->capture_default_str();
  compare->add_option("--db", options.db_path,
                      "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  compare->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
