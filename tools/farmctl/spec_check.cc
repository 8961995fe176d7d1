#include "spec_check.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "farm/sweep/expand.h"
#include "farm/sweep/file_resolver.h"
#include "farm/sweep/parser.h"
#include "farm/sweep/presets.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using farm::sweep::Diagnostic;

farm::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return farm::NotFound("cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Presets from `config_dir`; a missing file means no presets of that kind.
farm::Status LoadPresets(const std::string& config_dir, farm::sweep::SpecPresets* presets,
                         std::vector<Diagnostic>* problems) {
  const fs::path tones = fs::path(config_dir) / "tones.yaml";
  if (fs::exists(tones)) {
    FARM_ASSIGN_OR_RETURN(std::string text, ReadText(tones.string()));
    auto found = farm::sweep::CheckTonePresets(text, tones.string(), &presets->tones);
    problems->insert(problems->end(), found.begin(), found.end());
  }
  const fs::path pipelines = fs::path(config_dir) / "pipelines.yaml";
  if (fs::exists(pipelines)) {
    FARM_ASSIGN_OR_RETURN(std::string text, ReadText(pipelines.string()));
    auto found = farm::sweep::CheckPipelinePresets(text, pipelines.string(), &presets->pipelines);
    problems->insert(problems->end(), found.begin(), found.end());
  }
  return farm::Status::Ok();
}

}  // namespace

SpecCheckResult CheckSpecFile(const std::string& path, const std::string& config_dir,
                              const std::string& models_dir, bool expand) {
  SpecCheckResult result;
  farm::sweep::SpecPresets presets;
  result.error = LoadPresets(config_dir, &presets, &result.diagnostics);
  if (!result.error.ok() || !result.diagnostics.empty()) return result;
  auto text = ReadText(path);
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
  if (expand) {
    farm::sweep::FileSpecResolver resolver(fs::absolute(path).parent_path().string(), models_dir);
    auto expanded = farm::sweep::ExpandSweep(*check.spec, resolver);
    if (!expanded.ok()) {
      result.error = expanded.status().WithContext(path);
      return result;
    }
    result.spec.jobs = static_cast<std::int64_t>(expanded->jobs.size());
  }
  result.spec.text = std::move(*text);
  result.spec.name = check.spec->name;
  result.ok = true;
  return result;
}

int ReportSpecProblems(const GlobalOptions& options, const SpecCheckResult& result) {
  if (!result.error.ok()) return ReportError(options, result.error);
  if (options.json) {
    nlohmann::json diagnostics = nlohmann::json::array();
    for (const Diagnostic& d : result.diagnostics) {
      diagnostics.push_back({{"file", d.file},
                             {"line", d.line},
                             {"column", d.column},
                             {"path", d.path},
                             {"message", d.message}});
    }
    std::cout << nlohmann::json({{"ok", false}, {"diagnostics", diagnostics}}).dump(2) << "\n";
  } else {
    for (const Diagnostic& d : result.diagnostics) std::cerr << d.ToString() << "\n";
    std::cerr << "farmctl: " << result.diagnostics.size() << " problem"
              << (result.diagnostics.size() == 1 ? "" : "s") << " found\n";
  }
  return kExitFailure;
}

}  // namespace farmctl
