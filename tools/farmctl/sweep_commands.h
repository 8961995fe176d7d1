// `farmctl sweep validate|expand SPEC.yaml`: check a sweep spec and show the jobs it
// expands to, without touching the farm database.
#pragma once

#include <string>

#include "cli_common.h"

namespace CLI {
class App;
}  // namespace CLI

namespace farmctl {

// Registers the `sweep` verb and its subcommands on `app`. The references must outlive
// parsing: `config_dir` is read when a subcommand runs (after the command line is parsed)
// and names the folder holding tones.yaml and pipelines.yaml (either may be absent: then
// specs can only use inline tones and inline pipelines). `exit_code` receives the
// subcommand's exit code.
void AddSweepCommands(CLI::App& app, GlobalOptions& options, const std::string& config_dir,
                      int& exit_code);

}  // namespace farmctl
