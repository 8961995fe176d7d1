// `farmctl watch [SWEEP_ID]`: follows a sweep on a running farmd (--endpoint/--token or
// $STUDIOFARM_ENDPOINT/$STUDIOFARM_TOKEN) until every job is finished. A progress bar on
// stderr for people; with --json one JSON object per line on stdout for every change.
// Exit 0 when every job succeeded, 1 when any failed, was cancelled or skipped (or farmd
// cannot be reached), 130 on Ctrl-C (the sweep keeps running).
#pragma once

#include <string>

#include "cli_common.h"
#include "run_command.h"

namespace CLI {
class App;
}  // namespace CLI

namespace farmctl {

// Registers `watch`. The references must outlive parsing (see AddSweepCommands).
void AddWatchCommand(CLI::App& app, GlobalOptions& options, const ApiEnvironment& environment,
                     int& exit_code);

}  // namespace farmctl
