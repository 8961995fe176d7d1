// Local checks of a sweep spec before it is sent to farmd: the checks `sweep validate`
// runs (presets, every diagnostic, the job cap) and, for `run`, the files the spec names
// and the expansion itself, so missing photos or missing, truncated or wrong model files
// are caught before any process starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "cli_common.h"
#include "farm/sweep/diagnostic.h"
#include "farm/sweep/spec.h"

namespace farmctl {

struct CheckedSpec {
  std::string text;  // the YAML as read
  std::string name;
  std::int64_t jobs = 0;        // jobs it expands to
  std::int64_t train_jobs = 0;  // of which LoRA training
  std::int64_t score_jobs = 0;  // of which face-ID scoring
  std::string identity;         // identity.name
  std::string identity_token;   // identity.token
  bool identity_pick_largest = false;    // identity.pick: largest
  std::vector<std::string> photo_files;  // identity.photos resolved (with `expand` only)
  std::optional<farm::sweep::NightlySpec> nightly;  // the `nightly:` gate, when written
};

struct SpecCheckResult {
  bool ok = false;
  CheckedSpec spec;                                  // when ok
  std::vector<farm::sweep::Diagnostic> diagnostics;  // problems with a file position
  farm::Status error;                                // other problems (unreadable file, cap)
};

// `expand`: also expand with files resolved relative to the spec's folder and
// `models_dir` (missing files become errors). `check_files` (with `expand`): first check
// every file the spec names (spec_inputs.h: model headers and architecture, photos).
SpecCheckResult CheckSpecFile(const std::string& path, const std::string& config_dir,
                              const std::string& models_dir, bool expand,
                              bool check_files = false);

// Every diagnostic as a JSON array of {file, line, column, path, message}.
nlohmann::json DiagnosticsJson(const std::vector<farm::sweep::Diagnostic>& diagnostics);

// Prints every diagnostic (stderr, or {"ok":false,"diagnostics":[...]} on stdout with
// --json). Returns kExitFailure.
int ReportDiagnostics(const GlobalOptions& options,
                      const std::vector<farm::sweep::Diagnostic>& diagnostics);

// Prints a failed result for a person (stderr) or as JSON (stdout, like `sweep validate
// --json`). Returns kExitFailure.
int ReportSpecProblems(const GlobalOptions& options, const SpecCheckResult& result);

}  // namespace farmctl
