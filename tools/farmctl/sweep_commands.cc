#include "sweep_commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "farm/sweep/expand.h"
#include "farm/sweep/file_resolver.h"
#include "farm/sweep/halving.h"
#include "farm/sweep/parser.h"
#include "farm/sweep/preset_files.h"
#include "spec_check.h"
#include "spec_inputs.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using farm::sweep::Diagnostic;

struct SweepArgs {
  std::string file;
  std::size_t limit = 20;
  std::int64_t max_jobs = 0;  // 0: the spec's max_jobs or the default cap
  bool no_files = false;      // validate: the spec alone, not the files it names
};

// Reads the presets in `config_dir`; a missing file means no presets of that kind.
std::optional<farm::sweep::SpecPresets> LoadPresets(const GlobalOptions& options,
                                                    const std::string& config_dir, int& exit_code) {
  farm::sweep::SpecPresets presets;
  std::vector<Diagnostic> problems;
  if (farm::Status status = farm::sweep::LoadPresetFiles(config_dir, &presets, &problems);
      !status.ok()) {
    exit_code = ReportError(options, status);
    return std::nullopt;
  }
  if (!problems.empty()) {
    exit_code = ReportDiagnostics(options, problems);
    return std::nullopt;
  }
  return presets;
}

// Reads and validates the spec; reports and returns nullopt when it is invalid.
std::optional<farm::sweep::SweepSpec> LoadSpec(const GlobalOptions& options,
                                               const std::string& config_dir, const SweepArgs& args,
                                               int& exit_code) {
  auto presets = LoadPresets(options, config_dir, exit_code);
  if (!presets) return std::nullopt;
  auto text = farm::sweep::ReadTextFile(args.file);
  if (!text.ok()) {
    exit_code = ReportError(options, text.status());
    return std::nullopt;
  }
  farm::sweep::SpecCheck check = farm::sweep::CheckSweepSpec(*text, args.file, *presets);
  if (!check.spec) {
    exit_code = ReportDiagnostics(options, check.diagnostics);
    return std::nullopt;
  }
  return std::move(*check.spec);
}

std::int64_t Cap(const farm::sweep::SweepSpec& spec, const SweepArgs& args) {
  if (args.max_jobs > 0) return args.max_jobs;
  return spec.max_jobs.value_or(farm::sweep::kDefaultMaxJobs);
}

std::string CountLine(const farm::sweep::ExpansionCount& count) {
  return std::to_string(count.total()) + " jobs (" + std::to_string(count.prepare) + " prepare, " +
         std::to_string(count.train) + " train, " +
         std::to_string(count.render) + " render, " + std::to_string(count.score) + " score)";
}

nlohmann::json CountJson(const farm::sweep::ExpansionCount& count) {
  return {{"jobs", count.total()},
          {"prepare", count.prepare},
          {"train", count.train},
          {"render", count.render},
          {"score", count.score}};
}

std::string TotalsLine(const farm::sweep::JobTotals& totals) {
  return std::to_string(totals.total()) + " jobs (" + std::to_string(totals.render) +
         " render, " + std::to_string(totals.score) + " score)";
}

nlohmann::json TotalsJson(const farm::sweep::JobTotals& totals) {
  return {{"jobs", totals.total()},
          {"prepare", totals.prepare},
          {"train", totals.train},
          {"render", totals.render},
          {"score", totals.score}};
}

// A search's lines: how it runs, the most it may take and what it is expected to take.
void PrintSearch(const farm::sweep::SweepSpec& spec, const farm::sweep::ExpansionCount& count) {
  if (!spec.search || !count.search) return;
  const farm::sweep::SearchCount& search = *count.search;
  std::string cells;
  for (std::int64_t n : search.cells_per_rung) {
    cells += (cells.empty() ? "" : " -> ") + std::to_string(n);
  }
  std::cout << "search: " << farm::sweep::DescribeSearch(*spec.search) << "; cells per rung "
            << cells << " (first rung: the jobs above)\n";
  std::cout << "maximum: " << TotalsLine(search.maximum) << ", the full grid at "
            << spec.search->seeds_per_rung.back() << " seeds\n";
  const double saved = search.maximum.total() > 0
                           ? 100.0 * static_cast<double>(search.maximum.total() -
                                                         search.expected.total()) /
                                 static_cast<double>(search.maximum.total())
                           : 0.0;
  std::ostringstream pct;
  pct.precision(1);
  pct << std::fixed << saved;
  std::cout << "expected: " << TotalsLine(search.expected) << ", " << pct.str()
            << "% fewer than the full grid\n";
}

nlohmann::json SearchJson(const farm::sweep::SweepSpec& spec,
                          const farm::sweep::ExpansionCount& count) {
  if (!spec.search || !count.search) return nullptr;
  return {{"method", spec.search->method},
          {"seeds_per_rung", spec.search->seeds_per_rung},
          {"keep", spec.search->keep},
          {"metric", spec.search->metric},
          {"cells", count.search->cells},
          {"cells_per_rung", count.search->cells_per_rung},
          {"maximum", TotalsJson(count.search->maximum)},
          {"expected", TotalsJson(count.search->expected)}};
}

int RunValidate(const GlobalOptions& options, const std::string& config_dir,
                const SweepArgs& args) {
  int exit_code = kExitOk;
  auto spec = LoadSpec(options, config_dir, args, exit_code);
  if (!spec) return exit_code;
  auto count = farm::sweep::CountJobs(*spec);
  if (!count.ok()) return ReportError(options, count.status());
  const std::int64_t cap = Cap(*spec, args);
  // A search is capped by what it may grow to (every cell through the last rung).
  if (count->search ? count->search->maximum.total() > cap : count->total() > cap) {
    const std::string counted =
        count->search ? "at most " + TotalsLine(count->search->maximum) : CountLine(*count);
    return ReportError(
        options, farm::InvalidArgument(args.file + ": " + counted + ", over the cap of " +
                                       std::to_string(cap) +
                                       " jobs; expected a smaller grid, or raise the cap with "
                                       "max_jobs: in the spec or --max-jobs"));
  }
  if (!args.no_files) {
    const std::string spec_dir = std::filesystem::absolute(args.file).parent_path().string();
    farm::Status inputs = CheckSpecInputs(*spec, spec_dir, options.models_dir);
    if (!inputs.ok()) return ReportError(options, inputs.WithContext(args.file));
  }
  if (options.json) {
    nlohmann::json out = {{"ok", true}, {"name", spec->name}, {"count", CountJson(*count)}};
    if (!count->notes.empty()) out["notes"] = count->notes;
    if (count->search) out["search"] = SearchJson(*spec, *count);
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "ok: " << CountLine(*count) << "\n";
    PrintSearch(*spec, *count);
    for (const std::string& note : count->notes) std::cout << "note: " << note << "\n";
  }
  return kExitOk;
}

std::string Short(const std::string& hash) { return hash.substr(0, 10); }

std::string Number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// One table row's columns for a job.
std::vector<std::string> Row(const farm::sweep::ExpandedSweep& sweep, std::size_t index) {
  const farm::sweep::SweepJob& job = sweep.jobs[index];
  std::string deps;
  for (std::size_t d : job.depends_on) deps += (deps.empty() ? "#" : ",#") + std::to_string(d);
  std::vector<std::string> row = {std::to_string(index), farm::sweep::JobKindName(job.kind()),
                                  Short(job.param_hash), deps.empty() ? "-" : deps};
  if (const auto* r = std::get_if<farm::RenderParams>(&job.params)) {
    std::string lora = "-";
    if (!r->loras.empty()) {
      // A trained LoRA by its step ("@800"), a file by the start of its hash.
      const std::string& ref = r->loras[0].ref;
      const std::size_t at = ref.find('@');
      lora = (at == std::string::npos ? ref.substr(0, 19) : ref.substr(at)) + " x" +
             Number(r->loras[0].weight);
    }
    std::string sampler = r->sampler + (r->scheduler == "karras" ? " Karras" : "");
    row.insert(row.end(),
               {std::to_string(r->seed), sampler, Number(r->cfg), std::to_string(r->clip_skip),
                r->pose.empty() ? "-" : r->pose, r->tone.empty() ? "-" : r->tone, lora});
  } else if (const auto* t = std::get_if<farm::TrainParams>(&job.params)) {
    std::string steps;
    for (int s : t->save_steps) steps += (steps.empty() ? "" : ",") + std::to_string(s);
    row.insert(row.end(), {std::to_string(t->seed), "rank " + std::to_string(t->rank),
                           "lr " + Number(t->learning_rate), "-", "-", "-", "steps " + steps});
  } else if (const auto* p = std::get_if<farm::PrepareParams>(&job.params)) {
    row.insert(row.end(), {"-", std::to_string(p->photos.size()) + " photos",
                           std::to_string(p->resolution) + " px", "-", "-", "-", "-"});
  } else {
    const auto& s = std::get<farm::ScoreParams>(job.params);
    row.insert(row.end(), {"-", s.metric, "-", "-", "-", "-", "-"});
  }
  return row;
}

void PrintExpansion(const farm::sweep::SweepSpec& spec, const farm::sweep::ExpandedSweep& sweep,
                    std::size_t limit) {
  std::cout << "sweep " << sweep.name << ": " << CountLine(sweep.count) << "\n";
  PrintSearch(spec, sweep.count);
  for (const std::string& note : sweep.count.notes) std::cout << "note: " << note << "\n";
  std::cout << "\n";
  std::vector<std::vector<std::string>> params = {{"parameter", "values", "renders per value"}};
  for (const auto& p : sweep.value_counts) {
    std::string per_value;
    constexpr std::size_t kShown = 8;
    for (std::size_t i = 0; i < p.counts.size() && i < kShown; ++i) {
      per_value +=
          (i == 0 ? "" : ", ") + p.counts[i].value + " " + std::to_string(p.counts[i].renders);
    }
    if (p.counts.size() > kShown) {
      per_value += ", ... (" + std::to_string(p.counts.size() - kShown) + " more)";
    }
    params.push_back({p.name, std::to_string(p.counts.size()), per_value});
  }
  PrintTable(params);
  const std::size_t shown = std::min(limit, sweep.jobs.size());
  std::cout << "\nfirst " << shown << " of " << sweep.jobs.size() << " jobs:\n";
  std::vector<std::vector<std::string>> rows = {
      {"#", "kind", "hash", "deps", "seed", "sampler", "cfg", "clip", "pose", "tone", "lora"}};
  for (std::size_t i = 0; i < shown; ++i) rows.push_back(Row(sweep, i));
  PrintTable(rows);
}

// The canonical JSON as an object; as a string should it ever fail to parse.
nlohmann::json ParamsJson(const std::string& text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json(text) : parsed;
}

nlohmann::json ExpansionJson(const farm::sweep::SweepSpec& spec,
                             const farm::sweep::ExpandedSweep& sweep) {
  nlohmann::json parameters = nlohmann::json::array();
  for (const auto& p : sweep.value_counts) {
    nlohmann::json values = nlohmann::json::array();
    for (const auto& v : p.counts) values.push_back({{"value", v.value}, {"renders", v.renders}});
    parameters.push_back({{"name", p.name}, {"values", values}});
  }
  nlohmann::json jobs = nlohmann::json::array();
  for (std::size_t i = 0; i < sweep.jobs.size(); ++i) {
    const auto& job = sweep.jobs[i];
    jobs.push_back({{"index", i},
                    {"kind", farm::sweep::JobKindName(job.kind())},
                    {"param_hash", job.param_hash},
                    {"depends_on", job.depends_on},
                    {"priority", job.priority},
                    {"params", ParamsJson(job.params_json)}});
  }
  nlohmann::json out = {{"ok", true},
                        {"name", sweep.name},
                        {"count", CountJson(sweep.count)},
                        {"parameters", parameters},
                        {"jobs", jobs}};
  if (sweep.count.search) out["search"] = SearchJson(spec, sweep.count);
  return out;
}

int RunExpand(const GlobalOptions& options, const std::string& config_dir, const SweepArgs& args) {
  int exit_code = kExitOk;
  auto spec = LoadSpec(options, config_dir, args, exit_code);
  if (!spec) return exit_code;
  std::string spec_dir = fs::absolute(args.file).parent_path().string();
  farm::sweep::FileSpecResolver resolver(spec_dir, options.models_dir);
  farm::sweep::ExpandOptions expand_options;
  if (args.max_jobs > 0) expand_options.max_jobs = args.max_jobs;
  auto sweep = farm::sweep::ExpandSweep(*spec, resolver, expand_options);
  if (!sweep.ok()) return ReportError(options, sweep.status().WithContext(args.file));
  if (options.json) {
    std::cout << ExpansionJson(*spec, *sweep).dump(2) << "\n";
  } else {
    PrintExpansion(*spec, *sweep, args.limit);
  }
  return kExitOk;
}

}  // namespace

void AddSweepCommands(CLI::App& app, GlobalOptions& options, const std::string& config_dir,
                      int& exit_code) {
  CLI::App* sweep = app.add_subcommand("sweep", "Check sweep specs and show their jobs");
  sweep->require_subcommand(1);

  auto validate_args = std::make_shared<SweepArgs>();
  CLI::App* validate = sweep->add_subcommand(
      "validate",
      "Check a sweep spec and the files it names (every model's safetensors header and "
      "architecture, the identity's photos): prints 'ok: N jobs (...)' or every problem found");
  validate->add_option("FILE", validate_args->file, "Sweep spec (YAML)")->required();
  validate->add_option("--max-jobs", validate_args->max_jobs,
                       "Cap on the jobs the spec may expand to (default: the spec's max_jobs "
                       "or 100000)");
  validate->add_flag("--no-files", validate_args->no_files,
                     "Check the spec alone: skip reading the model headers and photos it names "
                     "(for a machine without the models)");
  validate->callback([&options, &config_dir, &exit_code, validate_args] {
    exit_code = RunValidate(options, config_dir, *validate_args);
  });

  auto expand_args = std::make_shared<SweepArgs>();
  CLI::App* expand = sweep->add_subcommand(
      "expand", "Expand a sweep spec into jobs: counts, values per parameter, the first jobs");
  expand->add_option("FILE", expand_args->file, "Sweep spec (YAML)")->required();
  expand->add_option("--limit", expand_args->limit, "Jobs to list in the table")
      ->capture_default_str();
  expand->add_option("--max-jobs", expand_args->max_jobs,
                     "Cap on the jobs the spec may expand to (default: the spec's max_jobs "
                     "or 100000)");
  expand->callback([&options, &config_dir, &exit_code, expand_args] {
    exit_code = RunExpand(options, config_dir, *expand_args);
  });
}

}  // namespace farmctl
