// What every farmctl verb shares: global options, exit codes and output helpers.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farmctl {

// Exit codes that scripts can act on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed (bad spec, bad database)
inline constexpr int kExitUsage = 2;    // the command line itself is wrong

struct GlobalOptions {
  bool json = false;            // machine-readable output on stdout
  std::string db_path;          // --db; empty means the farm config's default
  std::string models_dir;       // where `models:/` paths in specs point
  std::string default_db_path;  // resolved default for db_path
};

// Prints a failed Status for a person (stderr) or, with --json, as
// {"ok":false,"error":{"code":...,"message":...}} on stdout. Returns kExitFailure.
int ReportError(const GlobalOptions& options, const farm::Status& status);

// Database path to use: --db if given, else the default.
std::string EffectiveDbPath(const GlobalOptions& options);

// Prints rows as left-aligned columns separated by two spaces, on stdout unless `out` is
// given (the first row is usually the header).
void PrintTable(const std::vector<std::vector<std::string>>& rows);
void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out);

}  // namespace farmctl
