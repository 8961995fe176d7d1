// The farm of the fault tests: the farmd and farm-agent of this build as child processes
// on loopback, CURVE on with keys made for the test, synthetic sweeps submitted through
// farmd's HTTP API. Processes are started with farmctl's farm::ChildProcess (own process group,
// log files); the test kills them with SIGKILL and starts them again.
//
// farmd restarts on the agent port of its first start, with the same database and keys,
// so agents that outlive it find it again by themselves. Start every process from the
// test's main thread: children get SIGTERM when the thread that started them ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/child_process.h"
#include "farm/schemas/status.h"

namespace farm_faults {

struct TestFarmOptions {
  int allowed_agents = 3;  // key pairs agent-1..N, all on farmd's allow list
  // Short, so a killed agent or farmd is noticed quickly; liveness is generous so that a
  // loaded machine does not lose healthy agents.
  int heartbeat_interval_ms = 250;
  int heartbeat_liveness = 8;
  // Above the liveness window. Bounds how long a lease whose offer died with a killed
  // farmd waits before it is requeued.
  int lease_timeout_ms = 5000;
};

// Job counts of a sweep by state, as GET /api/v1/sweeps/{id} reports them.
struct SweepCounts {
  int total = 0;
  int queued = 0;
  int leased = 0;
  int succeeded = 0;
  int failed = 0;
  int cancelled = 0;
  int skipped = 0;
  int finished() const { return succeeded + failed + cancelled + skipped; }
};

class TestFarm {
 public:
  // Writes keys, the allow list, farmd's config and a photo for the spec into `dir`.
  static farm::StatusOr<std::unique_ptr<TestFarm>> Create(const std::filesystem::path& dir,
                                                          const TestFarmOptions& options = {});
  ~TestFarm();  // stops every process

  // Starts farmd and waits for its ready line. After the first start it binds the same
  // agent port again; the HTTP port may change.
  farm::Status StartFarmd();
  void KillFarmd();  // SIGKILL, then reaped
  bool FarmdRunning();
  pid_t farmd_pid() const { return farmd_ ? farmd_->pid() : -1; }
  // farmd's exit status as a shell shows it (128+signal) once FarmdRunning() saw it end.
  std::optional<int> farmd_exit_code() const {
    return farmd_ ? farmd_->exit_code() : std::nullopt;
  }

  // Agent `index` (1..allowed_agents): id "agent-<index>", its allow-listed key.
  farm::Status StartAgent(int index, int slots = 1);
  void KillAgent(int index);  // SIGKILL, then reaped
  bool AgentRunning(int index);
  // How often agent `index` registered, from its log (all its processes).
  int AgentRegistrations(int index) const;
  // Any farm-agent command line (after the binary); `name` names its log and handle.
  farm::Status StartAgentWith(const std::string& name, const std::vector<std::string>& args);
  void StopAll();

  // A key pair farmd does not know, written to keys/<name>.key; returns the file.
  farm::StatusOr<std::string> WriteUnknownKey(const std::string& name);
  // Starts agent `name` (its id too) with a key pair farmd does not know; returns the
  // pair's public key.
  farm::StatusOr<std::string> StartAgentWithUnknownKey(const std::string& name, int slots);
  // Waits until farmd's /metrics counts at least `count` refused agent connections;
  // `metrics` gets the last text read (for failure messages).
  bool WaitForAuthRefusals(double count, std::chrono::milliseconds limit, std::string* metrics);

  // Submits a synthetic sweep of `jobs` renders burning `cpu_ms` each and returning
  // `bytes` bytes of output each; returns its id.
  farm::StatusOr<std::int64_t> SubmitSweep(int jobs, int cpu_ms, int bytes = 32);
  farm::StatusOr<nlohmann::json> ApiGet(const std::string& target) const;
  farm::StatusOr<SweepCounts> Counts(std::int64_t sweep_id) const;
  farm::StatusOr<std::string> Metrics() const;

  // Polls every `period` until no job of the sweep is queued or leased, calling `tick`
  // (if set) with the latest counts between polls; farmd being down is tolerated (tick
  // may restart it). Each poll costs farmd a scan of the sweep's jobs, so not too often.
  // TimedOut after `limit`, which only keeps a broken farm from hanging the test.
  farm::StatusOr<SweepCounts> WaitForSweep(
      std::int64_t sweep_id, std::chrono::milliseconds limit,
      const std::function<void(const SweepCounts&)>& tick = {},
      std::chrono::milliseconds period = std::chrono::milliseconds(100));

  std::string database() const { return (dir_ / "farm.db").string(); }
  std::filesystem::path artifact_root() const { return dir_ / "artifacts"; }
  const std::string& agent_endpoint() const { return agent_endpoint_; }
  const std::string& server_public_key() const { return server_public_key_; }
  std::string agent_key_file(int index) const;
  std::string farmd_log() const { return (dir_ / "logs" / "farmd.log").string(); }
  // The log of agent `index` (all its processes).
  std::string agent_log(int index) const {
    return (dir_ / "logs" / ("agent-" + std::to_string(index) + ".log")).string();
  }
  // The last lines of farmd's and every agent's log, for failure messages.
  std::string LogTails(int lines = 20) const;

 private:
  TestFarm() = default;

  std::filesystem::path dir_;
  TestFarmOptions options_;
  std::string server_public_key_;
  std::string token_;
  std::unique_ptr<farm::ChildProcess> farmd_;
  std::string agent_endpoint_;  // fixed after the first start
  std::string http_endpoint_;
  std::map<std::string, farm::ChildProcess> agents_;
};

// The counts of GET /api/v1/sweeps/{id}'s answer; DataLoss when a field is missing.
farm::StatusOr<SweepCounts> SweepCountsOf(const nlohmann::json& sweep);

// The loop behind TestFarm::WaitForSweep, shared with other farms of processes (the netns
// harness): polls `counts` every `period` while `running()` until the sweep has jobs and
// none is queued or leased, calling `tick` (if set) between polls. TimedOut after `limit`,
// naming the last counts and API error, followed by `log_tails()`.
farm::StatusOr<SweepCounts> PollUntilSweepDone(
    std::int64_t sweep_id, std::chrono::milliseconds limit,
    const std::function<bool()>& running,
    const std::function<farm::StatusOr<SweepCounts>()>& counts,
    const std::function<void(const SweepCounts&)>& tick, std::chrono::milliseconds period,
    const std::function<std::string()>& log_tails);

// The last `lines` lines of every log file in `logs_dir`, each under its file name.
std::string TailsOfLogs(const std::filesystem::path& logs_dir, int lines);

// Polls `done` every `period` until it returns true; false once `limit` passed (the limit
// only keeps a broken farm from hanging the test).
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit,
               std::chrono::milliseconds period = std::chrono::milliseconds(50));

// VmRSS and VmHWM of a process in KiB from /proc/<pid>/status; 0 when unreadable.
struct ProcessMemory {
  std::int64_t rss_kib = 0;
  std::int64_t hwm_kib = 0;
};
ProcessMemory ReadProcessMemory(pid_t pid);

// Value of one sample line of Prometheus text (`name{labels} value`); -1 when absent.
double MetricValue(const std::string& metrics_text, const std::string& series);

}  // namespace farm_faults
