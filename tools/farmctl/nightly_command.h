// `farmctl nightly SPEC`: a new evaluation of the spec's renders (rendered again even
// when they exist, stored beside earlier results) compared with a baseline evaluation
// under the spec's `nightly:` limits. Exit 0 and the run becomes "last-good" when every
// limit holds; exit 1 with a summary when one does not (or a job failed).
#pragma once

#include <string>

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

void AddNightlyCommand(CLI::App& app, GlobalOptions& options, const std::string& config_dir,
                       int& exit_code);

}  // namespace farmctl
