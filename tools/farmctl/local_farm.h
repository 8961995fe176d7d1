// The embedded farm of `farmctl run`: farmd and N farm-agents as child processes on
// loopback, CURVE on with keys generated for this run, a random API token. Keys, logs and
// artifacts live in the state directory next to the database (keys/ is mode 0700, secret
// key files 0600).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "farm/schemas/child_process.h"
#include "farm/schemas/status.h"

namespace farmctl {

struct LocalFarmOptions {
  std::string farmd_path;
  std::string agent_path;
  std::string database;     // SQLite file farmd owns
  std::string state_dir;    // keys/, logs/, artifacts/, farmd.yaml
  std::string presets_dir;  // tones.yaml / pipelines.yaml
  std::string spec_dir;     // base of relative paths in the submitted spec
  std::string models_dir;   // where 'models:/' paths point
  int agents = 2;
  int slots = 1;  // jobs per agent at once
  std::string device = "cpu";  // each agent's --device
  int threads = 1;             // each agent's --threads
  int model_cache_mb = 0;  // agents' budget of loaded models; 0: farm-agent's default
  bool stage_images = false;  // agents also upload each recipe stage's image
  std::chrono::milliseconds ready_timeout{30000};
};

class LocalFarm {
 public:
  // Writes keys and farmd's config, starts farmd, waits for its ready line, starts the
  // agents. Gives up with Unavailable("interrupted") once `interrupted` is
  // set. Errors name the failing process and quote the tail of its log.
  static farm::StatusOr<std::unique_ptr<LocalFarm>> Start(const LocalFarmOptions& options,
                                                          const std::atomic<bool>& interrupted);
  ~LocalFarm();  // Stop()

  // OK while farmd and at least one agent run; otherwise says which died, with its log.
  farm::Status CheckAlive();
  // SIGTERM agents, then farmd; SIGKILL whatever outlives the grace. Idempotent.
  void Stop();

  const std::string& http_endpoint() const { return http_endpoint_; }
  const std::string& token() const { return token_; }
  const std::string& log_dir() const { return log_dir_; }

 private:
  LocalFarm() = default;

  std::unique_ptr<farm::ChildProcess> farmd_;
  std::vector<farm::ChildProcess> agents_;
  std::string http_endpoint_;
  std::string token_;
  std::string log_dir_;
};

}  // namespace farmctl
