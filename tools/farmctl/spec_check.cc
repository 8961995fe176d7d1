#include "spec_check.h"

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "farm/sweep/expand.h"
#include "farm/sweep/file_resolver.h"
#include "farm/sweep/parser.h"
#include "farm/sweep/preset_files.h"
#include "farm/sweep/presets.h"
#include "spec_inputs.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using farm::sweep::Diagnostic;

}  // namespace

SpecCheckResult CheckSpecFile(const std::string& path, const std::string& config_dir,
                              const std::string& models_dir, bool expand, bool check_files) {
  SpecCheckResult result;
  farm::sweep::SpecPresets presets;
  result.error = farm::sweep::LoadPresetFiles(config_dir, &presets, &result.diagnostics);
  if (!result.error.ok() || !result.diagnostics.empty()) return result;
  auto text = farm::sweep::ReadTextFile(path);
  if (!text.ok()) {
    result.error = text.status();
    return result;
  }
  farm::sweep::SpecCheck check = farm::sweep::CheckSweepSpec(*text, path, presets);
  if (!check.spec) {
    result.diagnostics = std::move(check.diagnostics);
    return result;
  }
  auto count = farm::sweep::CountJobs(*check.spec);
  if (!count.ok()) {
    result.error = count.status().WithContext(path);
    return result;
  }
  const std::int64_t cap = check.spec->max_jobs.value_or(farm::sweep::kDefaultMaxJobs);
  if (count->total() > cap) {
    result.error = farm::InvalidArgument(path + ": " + std::to_string(count->total()) +
                                         " jobs, over the cap of " + std::to_string(cap) +
                                         "; expected a smaller grid or max_jobs: in the spec");
    return result;
  }
  result.spec.jobs = count->total();
  result.spec.train_jobs = count->train;
  result.spec.score_jobs = count->score;
  if (expand) {
    const std::string spec_dir = fs::absolute(path).parent_path().string();
    // Every model header and photo first: a truncated or wrong file is named here, with
    // what was expected, instead of failing every job on the agents.
    if (check_files) {
      result.error = CheckSpecInputs(*check.spec, spec_dir, models_dir).WithContext(path);
      if (!result.error.ok()) return result;
    }
    farm::sweep::FileSpecResolver resolver(spec_dir, models_dir);
    auto expanded = farm::sweep::ExpandSweep(*check.spec, resolver);
    if (!expanded.ok()) {
      result.error = expanded.status().WithContext(path);
      return result;
    }
    result.spec.jobs = static_cast<std::int64_t>(expanded->jobs.size());
    result.spec.train_jobs = expanded->count.train;
    result.spec.score_jobs = expanded->count.score;
    auto photos = resolver.ResolvePhotoFiles(check.spec->identity.photos);
    if (!photos.ok()) {
      result.error = photos.status().WithContext(path);
      return result;
    }
    result.spec.photo_files = std::move(*photos);
  }
  result.spec.identity = check.spec->identity.name;
  result.spec.identity_token = check.spec->identity.token;
  result.spec.identity_pick_largest = check.spec->identity.pick_largest;
  result.spec.nightly = check.spec->nightly;
  result.spec.text = std::move(*text);
  result.spec.name = check.spec->name;
  result.ok = true;
  return result;
}

nlohmann::json DiagnosticsJson(const std::vector<Diagnostic>& diagnostics) {
  nlohmann::json out = nlohmann::json::array();
  for (const Diagnostic& d : diagnostics) {
    out.push_back({{"file", d.file},
                   {"line", d.line},
                   {"column", d.column},
                   {"path", d.path},
                   {"message", d.message}});
  }
  return out;
}

int ReportDiagnostics(const GlobalOptions& options, const std::vector<Diagnostic>& diagnostics) {
  if (options.json) {
    nlohmann::json out = {{"ok", false}, {"diagnostics", DiagnosticsJson(diagnostics)}};
    std::cout << out.dump(2) << "\n";
  } else {
    for (const Diagnostic& d : diagnostics) std::cerr << d.ToString() << "\n";
    std::cerr << "farmctl: " << diagnostics.size() << " problem"
              << (diagnostics.size() == 1 ? "" : "s") << " found\n";
  }
  return kExitFailure;
}

int ReportSpecProblems(const GlobalOptions& options, const SpecCheckResult& result) {
  if (!result.error.ok()) return ReportError(options, result.error);
  return ReportDiagnostics(options, result.diagnostics);
}

}  // namespace farmctl
