#include "nightly_command.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent_call.h"
#include "farm/store/store.h"
#include "farm_defaults.h"
#include "program_path.h"
#include "report_command.h"
#include "nightly_evaluation.h"
#include "run_command.h"
#include "spec_check.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using farm::store::OpenMode;
using farm::store::Store;
using Json = nlohmann::ordered_json;

struct NightlyArgs {
  RunArgs run;
  std::string baseline = "last-good";  // or a sweep id
  std::int64_t sweep_id = 0;           // evaluate this sweep instead of running the spec
  std::string report;                  // HTML report of the evaluation sweep, when set
};

// The baseline's sweep id, 0 when there is none yet (the first evaluation).
farm::StatusOr<std::int64_t> ResolveBaseline(const fs::path& database, const std::string& spec_name,
                                             const std::string& baseline) {
  if (baseline != "last-good") {
    std::size_t used = 0;
    std::int64_t id = 0;
    try {
      id = std::stoll(baseline, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != baseline.size() || id <= 0) {
      return farm::InvalidArgument("--baseline '" + baseline + "': expected last-good or a sweep id");
    }
    return id;
  }
  if (!fs::exists(database)) return 0;
  FARM_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(database.string(), OpenMode::kReadOnly));
  auto good = store->GetLastGoodNightly(spec_name);
  if (good.ok()) return good->sweep_id;
  if (good.status().code() == farm::StatusCode::kNotFound) return 0;
  return good.status();
}

// Pixel hashes of stored images through one `farm-agent pixel-hash` run over their files.
PixelHasher AgentPixelHasher(Store& store, const fs::path& artifact_root, const std::string& agent) {
  return [&store, artifact_root, agent](const std::vector<std::string>& images)
             -> farm::StatusOr<std::map<std::string, std::string>> {
    std::vector<std::string> args = {"pixel-hash"};
    std::map<std::string, std::string> sha_of_file;
    for (const std::string& sha : images) {
      FARM_ASSIGN_OR_RETURN(farm::store::Artifact artifact, store.GetArtifactBySha256(sha));
      const std::string file = (artifact_root / artifact.path).string();
      if (sha_of_file.emplace(file, sha).second) args.push_back(file);
    }
    args.push_back("--json");
    FARM_ASSIGN_OR_RETURN(AgentRun run, RunAgent(agent, args));
    std::map<std::string, std::string> pixels;
    std::istringstream lines(run.out);
    for (std::string line; std::getline(lines, line);) {
      const nlohmann::json answer = nlohmann::json::parse(line, nullptr, false);
      if (!answer.is_object() || !answer.value("ok", false)) continue;
      auto file = sha_of_file.find(answer.value("file", ""));
      if (file != sha_of_file.end()) pixels[file->second] = answer.value("pixel_sha256", "");
    }
    if (pixels.size() < sha_of_file.size()) {
      return farm::Internal("farm-agent pixel-hash hashed " + std::to_string(pixels.size()) + " of " +
                            std::to_string(sha_of_file.size()) + " images: " + LastLines(run.err, 1));
    }
    return pixels;
  };
}

int Run(const GlobalOptions& options, const std::string& config_dir, const NightlyArgs& args) {
  SpecCheckResult checked = CheckSpecFile(args.run.spec, config_dir, options.models_dir, false);
  if (!checked.ok) return ReportSpecProblems(options, checked);
  const farm::sweep::NightlySpec gate = checked.spec.nightly.value_or(farm::sweep::NightlySpec{});
  const fs::path database = fs::absolute(EffectiveDbPath(options));
  auto baseline = ResolveBaseline(database, checked.spec.name, args.baseline);
  if (!baseline.ok()) return ReportError(options, baseline.status());

  std::int64_t sweep_id = args.sweep_id;
  bool run_ok = true;
  if (sweep_id == 0) {
    RunSummary summary;
    const int code = RunSweep(options, config_dir, args.run, &summary);
    if (code == kExitInterrupted || summary.sweep_id == 0) return code;
    sweep_id = summary.sweep_id;
    run_ok = summary.ok;
  }
  if (*baseline == sweep_id) {
    return ReportError(options, farm::InvalidArgument("sweep " + std::to_string(sweep_id) +
                                                      " cannot be its own baseline"));
  }

  auto store = Store::Open(database.string(), OpenMode::kReadWrite);
  if (!store.ok()) return ReportError(options, store.status());
  farm::store::NightlyRun record;
  record.sweep_id = sweep_id;
  record.spec_name = checked.spec.name;
  Json out = {{"ok", false}, {"spec", checked.spec.name}, {"sweep_id", sweep_id},
              {"limits", {{"max_mean_drop", gate.max_mean_drop},
                          {"pass_if_ci_includes_zero", gate.pass_if_ci_includes_zero},
                          {"max_face_rate_drop", gate.max_face_rate_drop},
                          {"max_pose_success_drop", gate.max_pose_success_drop},
                          {"success_threshold", gate.success_threshold}}}};
  bool pass = run_ok;
  if (*baseline == 0) {
    // Nothing to compare with: a complete first run becomes the baseline.
    record.verdict = pass ? farm::store::NightlyVerdict::kFirst : farm::store::NightlyVerdict::kFail;
    out["verdict"] = farm::store::Name(record.verdict);
    out["baseline_sweep_id"] = nullptr;
    if (!options.json) {
      std::cout << "nightly: sweep " << sweep_id << " is the first evaluation of '" << checked.spec.name
                << "'" << (pass ? ": stored as the baseline (last-good)" : " and it FAILED: not a baseline")
                << "\n";
    }
  } else {
    const PixelHasher hasher =
        AgentPixelHasher(**store, database.parent_path() / "artifacts", FindAgentProgram(args.run.agent_path));
    auto evaluation = EvaluateNightly(**store, *baseline, sweep_id, gate, hasher);
    if (!evaluation.ok()) return ReportError(options, evaluation.status());
    pass = pass && evaluation->pass;
    record.baseline_sweep_id = *baseline;
    record.verdict = pass ? farm::store::NightlyVerdict::kPass : farm::store::NightlyVerdict::kFail;
    out["verdict"] = farm::store::Name(record.verdict);
    out["baseline_sweep_id"] = *baseline;
    out["evaluation"] = EvaluationJson(*evaluation);
    if (!options.json) {
      PrintEvaluation(std::cout, *evaluation);
      if (!checked.spec.nightly) std::cout << "  (default limits: the spec has no nightly: section)\n";
    }
  }
  out["ok"] = pass;
  if (!args.report.empty()) {
    // The evaluation's own page; a report that cannot be written is said, the verdict stands.
    auto report = WriteSweepReport(**store, sweep_id, DefaultReportOptions(database.string(), args.run.agent_path),
                                   args.report);
    if (report.ok()) {
      out["report"] = {{"path", args.report}, {"bytes", report->bytes}};
      if (!options.json) {
        std::cout << "nightly: report " << args.report << " (" << HumanSize(report->bytes) << ")\n";
      }
    } else {
      out["report_error"] = report.status().ToString();
      std::cerr << "farmctl nightly: report not written: " << report.status().ToString() << "\n";
    }
  }
  record.summary_json = out.dump();
  if (farm::Status stored = (*store)->RecordNightlyRun(record); !stored.ok()) {
    return ReportError(options, stored);
  }
  if (options.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "nightly: " << (pass ? "sweep " + std::to_string(sweep_id) + " is now last-good"
                                      : "verdict recorded; last-good stays as it was")
              << "\n";
  }
  return pass ? kExitOk : kExitFailure;
}

}  // namespace

void AddNightlyCommand(CLI::App& app, GlobalOptions& options, const std::string& config_dir,
                       int& exit_code) {
  auto args = std::make_shared<NightlyArgs>();
  args->run.rerender = true;
  args->run.print_result = false;
  CLI::App* nightly = app.add_subcommand(
      "nightly",
      "Nightly evaluation with a regression gate: renders the spec again on the local farm "
      "(new jobs even for records already rendered; earlier results are kept), then compares "
      "it with the baseline: renders whose pixels changed (with the engine and agent version "
      "of each), the mean score delta with its 95 % bootstrap interval (paired by record), the "
      "face-found rate and each pose's success rate. The limits come from the spec's "
      "`nightly:` section (max_mean_drop, pass_if_ci_includes_zero, max_face_rate_drop, "
      "max_pose_success_drop, success_threshold). Exit 0 when every limit holds (the run "
      "becomes last-good), 1 with a summary when one does not or a job failed, 130 on Ctrl-C. "
      "The first evaluation of a spec has no baseline and becomes it.");
  nightly->add_option("SPEC", args->run.spec, "Evaluation sweep spec (YAML)")->required();
  nightly->add_option("--baseline", args->baseline,
                      "last-good (the newest passing evaluation of this spec) or a sweep id")
      ->capture_default_str();
  nightly->add_option("--sweep", args->sweep_id,
                      "Judge this evaluation sweep, already run, instead of running the spec")
      ->check(CLI::PositiveNumber);
  nightly->add_option("--report", args->report,
                      "Also write the evaluation sweep's HTML report (as farmctl report) to this file");
  nightly->add_option("--agents", args->run.agents, "Local agents to start (as for run)")
      ->check(CLI::Range(1, kMaxLocalAgents));
  nightly->add_option("--slots", args->run.slots, "Jobs each agent runs at once (as for run)")
      ->check(CLI::Range(1, kMaxAgentSlots));
  nightly->add_option("--farmd", args->run.farmd_path, "farmd executable (default: the build's)");
  nightly->add_option("--agent", args->run.agent_path, "farm-agent executable (default: the build's)");
  nightly->add_option("--db", options.db_path,
                      "Farm database (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  nightly->callback([&options, &config_dir, &exit_code, args] {
    exit_code = Run(options, config_dir, *args);
  });
}

}  // namespace farmctl
