// Verbs against a running farmd's HTTP API: `status [SWEEP_ID]`, `jobs --sweep ID`,
// `agents`, `agents drain|resume AGENT_ID [--wait]`, `cancel SWEEP_ID | --job ID`,
// `submit SPEC.yaml`. Each takes --endpoint
// HOST:PORT and --token T (defaults from ApiEnvironment). Tables for people; with --json
// the API's JSON is printed as it came.
#pragma once

#include <string>

#include "cli_common.h"
#include "run_command.h"

namespace farmctl {

void AddRemoteCommands(CLI::App& app, GlobalOptions& options, const std::string& config_dir,
                       const ApiEnvironment& environment, int& exit_code);

}  // namespace farmctl
