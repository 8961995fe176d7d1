// `farmctl run SWEEP.yaml`: the embedded default. Checks the spec, starts farmd and
// local agents (local_farm.h), submits the sweep, shows progress until every job is
// finished and stops the farm. Ctrl-C cancels the sweep and exits 130. Running it again
// on the same database resumes: finished results are shared, not redone. A sweep that
// cannot finish (queued jobs no online agent may take, nothing running or changing for a
// few heartbeat intervals) is cancelled and ends with exit 1 and farmd's reasons.
#pragma once

#include <string>

#include "cli_common.h"

namespace CLI {
class App;
}  // namespace CLI

namespace farmctl {

inline constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it

// Where the query verbs find a running farmd by default.
struct ApiEnvironment {
  std::string endpoint;  // $STUDIOFARM_ENDPOINT, HOST:PORT
  std::string token;     // $STUDIOFARM_TOKEN
};

// Reads $STUDIOFARM_ENDPOINT and $STUDIOFARM_TOKEN (main calls this; nothing else
// reads the environment).
ApiEnvironment ReadApiEnvironment();

// Registers `run`. The references must outlive parsing (see AddSweepCommands).
void AddRunCommands(CLI::App& app, GlobalOptions& options, const std::string& config_dir,
                    int& exit_code);

}  // namespace farmctl
