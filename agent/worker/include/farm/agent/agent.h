// farm-agent's connection loop: registers with farmd over a ZeroMQ DEALER socket, keeps
// heartbeats both ways, runs offered jobs in slots and reports their results.
//
// Threading: Run() owns the socket and must be called on one thread; jobs run on up to
// `slots` threads, each started with its slot's first job and kept for the next ones,
// all joined before returning. Only the socket thread touches the socket; jobs hand
// results back through a queue. With a farmd that takes batches (Welcome.batches),
// results finished together go in one JobResultBatch, small artifacts inline.
//
// Reliability (DESIGN.md "Reliability model"): a peer silent for interval x liveness is
// presumed dead; the agent then opens a new socket after a back-off of
// reconnect_initial, doubling to reconnect_max, reset by a Welcome. A result is kept and
// resent (same lease, artifacts first) after every registration, and when unacknowledged
// for two liveness windows of heartbeats, until farmd sends a ResultAck for it. Register
// and every heartbeat list the leases the agent holds (running, or with a result not yet
// acknowledged), so that a reconnect keeps them and farmd can requeue a lost offer; an
// offer refused for want of a free slot is marked refused_busy (it spends no attempt).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "farm.pb.h"
#include "farm/agent/artifact_fetcher.h"
#include "farm/agent/job_runner.h"
#include "farm/schemas/status.h"

namespace farm::agent {

inline constexpr uint32_t kProtocolVersion = 1;

// A CURVE key pair in Z85 (40 characters each).
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

// Parses the key file text "public: <z85>\nsecret: <z85>\n" (blank lines and lines
// starting with '#' ignored). InvalidArgument naming the line on anything else.
StatusOr<CurveKeyPair> ParseCurveKeyPair(std::string_view text);

// Checks that `key` is 40 Z85 characters (a 32-byte key). InvalidArgument otherwise.
Status ValidateZ85Key(std::string_view key);

// A fresh random key pair (for an agent given a server key but no key file).
StatusOr<CurveKeyPair> GenerateCurveKeyPair();

struct AgentOptions {
  // farmd's endpoint, e.g. "tcp://farm.example:5555". Required.
  std::string endpoint;
  // Stable agent id, used as the socket's routing id (1..255 bytes). Required.
  std::string agent_id;
  std::string hostname;  // reported in Register; main() fills it
  // Jobs run at once. Offers beyond this (and `prefetch`) are answered with a RELEASED
  // result.
  uint32_t slots = 1;
  // Leases taken beyond `slots`, queued until a slot frees (short jobs: a slot never waits
  // a round trip for its next one). Gang ranks are never queued: they start at once or are
  // refused as busy. 0: none.
  uint32_t prefetch = 0;
  // Intra-job threads a runner may use (JobSpec::compute_threads).
  uint32_t compute_threads = 1;

  // Server public key (Z85). Unset: plaintext, for loopback tests only.
  std::optional<std::string> server_public_key;
  // Own key pair for CURVE; unset with a server key: a fresh pair per process.
  std::optional<CurveKeyPair> client_keys;

  // Reported in Register.capabilities.
  studiofarm::v1::DeviceKind device_kind = studiofarm::v1::DEVICE_KIND_CPU;
  std::string device_name = "cpu";
  uint64_t device_memory_bytes = 0;
  uint32_t cpu_cores = 0;
  std::vector<std::string> cached_model_sha256;

  // Heartbeat interval and liveness used until farmd's Welcome says otherwise (a Welcome
  // with zero values keeps these). Shorter detects loss sooner but costs traffic.
  std::chrono::milliseconds heartbeat_interval{1000};
  uint32_t heartbeat_liveness = 3;
  // Reconnect back-off: first wait, doubled per failed attempt up to the max.
  std::chrono::milliseconds reconnect_initial{1000};
  std::chrono::milliseconds reconnect_max{32000};
  // On shutdown, running jobs may finish within this; then they are released.
  std::chrono::milliseconds shutdown_grace{30000};
  // After the last job ended on shutdown, how long to wait for ResultAcks.
  std::chrono::milliseconds shutdown_ack_wait{3000};
  // Upper bound on one wait of the socket loop; bounds how late a stop flag is seen.
  std::chrono::milliseconds max_poll_wait{50};

  // Downloads from farmd for the runners (artifact_fetcher.h): the agent attaches it to
  // its socket thread while Run() runs. Null: runners cannot fetch artifacts.
  std::shared_ptr<ArtifactFetcher> artifact_fetcher;

  // Monotonic clock for every timer above; tests may substitute one.
  std::function<std::chrono::steady_clock::time_point()> now = [] {
    return std::chrono::steady_clock::now();
  };
  // Wall clock in Unix milliseconds, for Heartbeat.sent_unix_ms.
  std::function<uint64_t()> unix_now_ms;
};

class Agent {
 public:
  // InvalidArgument for bad options (empty endpoint or id, zero slots, malformed keys).
  // `runners` must outlive the agent.
  static StatusOr<std::unique_ptr<Agent>> Create(AgentOptions options,
                                                 const RunnerRegistry* runners);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until `stop` becomes true (a signal handler may set it), then shuts down
  // gracefully: no new offers, running jobs get shutdown_grace to finish, then are
  // released; results are sent and acks awaited for shutdown_ack_wait. Returns OK after a
  // graceful shutdown; FailedPrecondition when farmd refuses the protocol version;
  // Internal when ZeroMQ cannot be set up at all. Call at most once.
  Status Run(const std::atomic<bool>& stop);

 private:
  class Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace farm::agent
