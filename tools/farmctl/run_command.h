// `farmctl run SWEEP.yaml`: the embedded default. Checks the spec, starts farmd and
// local agents (local_farm.h), submits the sweep, shows progress until every job is
// finished and stops the farm. Ctrl-C cancels the sweep and exits 130. Running it again
// on the same database resumes: finished results are shared, not redone. A sweep that
// cannot finish (queued jobs no online agent may take, nothing running or changing for a
// few heartbeat intervals) is cancelled and ends with exit 1 and farmd's reasons.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_common.h"
#include "sweep_counts.h"

namespace CLI {
class App;
}  // namespace CLI

namespace farmctl {

inline constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it

// Where the query verbs find a running farmd by default.
struct ApiEnvironment {
  std::string endpoint;     // $STUDIOFARM_ENDPOINT, HOST:PORT or https://HOST:PORT
  std::string token;        // $STUDIOFARM_TOKEN
  std::string fingerprint;  // $STUDIOFARM_FINGERPRINT, the pin for an https endpoint
  // $STUDIOFARM_KNOWN_FARMS, else $XDG_CONFIG_HOME or ~/.config, + /studiofarm/known_farms
  std::string known_farms;
};

// Reads $STUDIOFARM_ENDPOINT, $STUDIOFARM_TOKEN, $STUDIOFARM_FINGERPRINT and the known
// farms path (main calls this; nothing else reads the environment).
ApiEnvironment ReadApiEnvironment();

struct RunArgs {
  std::string spec;
  int agents = 0;  // 0: agents.count of the config folder's local.yaml
  int slots = 0;   // 0: agents.slots of local.yaml
  bool synthetic = false;
  bool force = false;
  int top = 20;            // ranked renders printed at the end (0: all)
  int model_cache_mb = 0;  // agents' model memory budget; 0: farm-agent's default
  bool stage_images = false;
  // Render every record again as new jobs of a new sweep, beside earlier results (no
  // resume): a nightly evaluation.
  bool rerender = false;
  // false: the caller reports the result (farmctl nightly); only failures are printed.
  bool print_result = true;
  std::string farmd_path;
  std::string agent_path;
};

// What a run that got as far as a sweep left behind.
struct RunSummary {
  std::int64_t sweep_id = 0;  // 0: no sweep ran
  std::string spec_name;
  std::filesystem::path database;
  JobCounts counts;
  bool ok = false;  // every job succeeded
  nlohmann::json first_errors = nlohmann::json::array();  // [{job_id, error}]
};

// `farmctl run`: checks the spec, starts the local farm, submits (or resumes), waits and
// stops the farm. Returns the exit code (kExitInterrupted on Ctrl-C); fills `summary` when
// a sweep ran.
int RunSweep(const GlobalOptions& options, const std::string& config_dir, const RunArgs& args,
             RunSummary* summary = nullptr);

// Registers `run`. The references must outlive parsing (see AddSweepCommands).
void AddRunCommands(CLI::App& app, GlobalOptions& options, const std::string& config_dir,
                    int& exit_code);

}  // namespace farmctl
