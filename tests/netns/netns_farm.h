// The farm of docs/operations.md across the lab's namespaces: keys made by the document's
// `farmctl keys gen` commands, the allow-list by its `awk` command, an admin token from
// `farmctl token new`, farmd started with the document's systemd flags and
// farm_configs/cluster.example.yaml (paths moved under the test's folder, heartbeats and
// leases shortened), agents `node01`..`nodeNN` started with the farm-agent unit's flags, each
// `ip netns exec`'d in its own namespace and connecting to farmd over the lab's network with
// CURVE on. The test talks to farmd's HTTP API (HTTPS with the certificate pinned, when the
// config listens off loopback) from a thread that enters farmd's namespace for the call.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "delay_proxy.h"
#include "farm/schemas/child_process.h"
#include "netns_lab.h"
#include "ops_doc.h"
#include "test_farm_util.h"

namespace farm_netns {

struct NetnsFarmOptions {
  int slots = 2;  // per agent
  // Short, so a partition is noticed within about a second (the document's are 1000/3/30000).
  int heartbeat_interval_ms = 200;
  int heartbeat_liveness = 5;
  int lease_timeout_ms = 3000;
  // When set, agents connect to a DelayProxy in farmd's namespace (farmd's address, the
  // agent port + 1) that holds every byte this long in each direction.
  std::optional<std::chrono::milliseconds> proxy_delay;
};

class NetnsFarm {
 public:
  static farm::StatusOr<std::unique_ptr<NetnsFarm>> Create(NetnsLab& lab,
                                                           const std::filesystem::path& dir,
                                                           const NetnsFarmOptions& options = {});
  ~NetnsFarm();  // stops every process

  // Starts farmd in its namespace and waits for its ready line, which must show the config's
  // endpoints and database. Restarts use the same database, keys and port.
  farm::Status StartFarmd();
  void KillFarmd();  // SIGKILL, then reaped
  bool FarmdRunning();

  // Agent `index` (1..lab.agents()), id agent_id(index), in the lab's namespace for it.
  farm::Status StartAgent(int index);
  bool AgentRunning(int index);
  static std::string agent_id(int index);
  // Lines of agent `index`'s log containing `needle` ("registered, session", ...).
  int AgentLogCount(int index, const std::string& needle) const;
  void StopAll();

  farm::StatusOr<std::int64_t> SubmitSweep(int jobs, int cpu_ms, int bytes = 32);
  farm::StatusOr<nlohmann::json> ApiGet(const std::string& target) const;
  farm::StatusOr<farm_faults::SweepCounts> Counts(std::int64_t sweep_id) const;
  farm::StatusOr<std::string> Metrics() const;
  // As farm_faults::TestFarm::WaitForSweep: until nothing of the sweep is queued or leased.
  farm::StatusOr<farm_faults::SweepCounts> WaitForSweep(
      std::int64_t sweep_id, std::chrono::milliseconds limit,
      const std::function<void(const farm_faults::SweepCounts&)>& tick = {},
      std::chrono::milliseconds period = std::chrono::milliseconds(200));

  std::string database() const { return database_; }
  std::filesystem::path artifact_root() const { return artifacts_; }
  std::string farmd_log() const { return (dir_ / "logs" / "farmd.log").string(); }
  std::string agent_log(int index) const {
    return (dir_ / "logs" / (agent_id(index) + ".log")).string();
  }
  std::string LogTails(int lines = 20) const;
  const DelayProxy* proxy() const { return proxy_.get(); }

 private:
  NetnsFarm(NetnsLab& lab) : lab_(lab) {}
  farm::Status MakeKeysAndToken();
  farm::Status WriteConfig();
  std::string Mapped(const std::string& text) const;

  NetnsLab& lab_;
  std::filesystem::path dir_;
  NetnsFarmOptions options_;
  OpsDoc doc_;
  std::string token_;
  std::string config_path_;
  std::string database_;
  std::filesystem::path artifacts_;
  int agent_port_ = 0;
  std::string http_endpoint_;     // inside farmd's namespace: http:// or https://
  std::string tls_fingerprint_;  // of farmd's certificate, when HTTPS
  std::unique_ptr<farm::ChildProcess> farmd_;
  std::map<int, farm::ChildProcess> agents_;
  std::unique_ptr<DelayProxy> proxy_;
};

}  // namespace farm_netns
