// farmd's event loop: one thread owns the Scheduler, the Store and the AgentLink.
//
// Each RunOnce(): receive agent messages (short timeout) and handle them; run tasks
// posted from other threads (the HTTP server); every tick_interval_ms call
// Scheduler::Tick; then drain the scheduler's decisions, persist them in ONE store
// transaction and only after the commit send the JobOffers and Cancels (a crash never
// loses a lease record). Accepted results are stored with their artifacts, attempt
// outcome and job state in one transaction as well.
//
// Ownership: the Coordinator borrows the Store, the AgentLink and the Clock; they must
// outlive it. Threading: every method except Post() and Call() must be called from the
// loop thread (the one calling RunOnce/Run). Errors: bad input from agents is answered
// with an Error envelope and counted, never fatal; Status errors out of RunOnce mean the
// link or the database failed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "farm/scheduler/clock.h"
#include "farm/scheduler/options.h"
#include "farm/scheduler/scheduler.h"
#include "farm/schemas/status.h"
#include "farm/store/store.h"
#include "farm/sweep/presets.h"
#include "farm/sweep/resolver.h"
#include "farm/transport/agent_link.h"

namespace farm::farmd {

// The wire protocol major version farmd speaks (farm.proto, package studiofarm.v1).
inline constexpr std::uint32_t kProtocolVersion = 1;

struct CoordinatorOptions {
  // Where content-addressed artifacts live (<root>/ab/cd/<sha256>); uploads in progress
  // go to <root>/tmp. Created if missing. Required.
  std::string artifact_root;
  scheduler::SchedulerOptions scheduler;
  // How long one Receive waits for agent messages. Short, so that posted HTTP tasks and
  // ticks are not delayed. Default 10 ms.
  std::chrono::milliseconds receive_timeout{10};
  // Messages handled per Receive (bounds one iteration's latency). Default 1000.
  std::size_t max_receive_batch = 1000;
  // Scheduler::Tick period. Default 100 ms.
  scheduler::TimeMs tick_interval_ms = 100;
  // Largest artifact accepted; a chunk past it is dropped with an Error. Default 1 GiB.
  std::uint64_t max_artifact_bytes = 1ull << 30;
  // Artifacts uploaded in parallel for one lease (bounds temp files). Default 16.
  std::size_t max_uploads_per_lease = 16;
  // Artifact downloads by agents (ArtifactRead): reads waiting beyond this many are
  // answered BUSY; one loop iteration reads at most about this many bytes from disk (at
  // least one read). Defaults 256 and 16 MiB.
  std::size_t max_queued_artifact_reads = 256;
  std::uint64_t artifact_read_bytes_per_iteration = 16u << 20;
  // Sent in Welcome; changes when farmd restarts. Empty: random.
  std::string session_id;
};

// How to turn a sweep spec into jobs.
struct SubmitOptions {
  // Submit every job as a JOB_KIND_SYNTHETIC stand-in (kind 'synthetic' in the jobs
  // table, params {"bytes","cpu_ms","stand_in_for":{kind,param_hash}}), so the farm runs
  // end to end before the render engine exists. The agent gets
  // {"bytes","cpu_ms","fail":false,"seed":<job id>}.
  bool synthetic = false;
  std::int64_t synthetic_cpu_ms = 50;
  std::int64_t synthetic_bytes = 4096;
  std::optional<std::int64_t> max_jobs;  // overrides the spec's cap
  // Render every record again as this sweep's own job, even when a result exists or a job
  // is on its way (a nightly evaluation); earlier sweeps keep their results.
  bool rerender = false;
};

struct SubmitResult {
  std::int64_t sweep_id = 0;
  std::string name;
  int jobs_total = 0;      // jobs the spec expanded to
  int jobs_created = 0;    // new jobs handed to the scheduler
  int renders_shared = 0;  // renders satisfied by existing results or pending jobs
};

// Counters of the loop, for /metrics and tests.
struct LoopCounters {
  std::uint64_t messages = 0;
  std::uint64_t bad_messages = 0;  // answered with an Error envelope
  std::uint64_t results_accepted = 0;
  std::uint64_t results_ignored = 0;  // stale or duplicate
  std::uint64_t artifacts_stored = 0;
  std::uint64_t artifacts_rejected = 0;  // size/SHA-256 mismatch or out-of-bounds chunks
  std::uint64_t artifact_reads = 0;      // ArtifactRead answered (data or error)
  std::uint64_t artifact_resolves = 0;   // ArtifactResolve answered
  std::uint64_t jobs_succeeded = 0;
  std::uint64_t jobs_failed = 0;
  std::uint64_t send_failures = 0;
  std::uint64_t store_errors = 0;
  // Reconnects and wasted offers (issue: an agent's link drops, an offer is lost):
  std::uint64_t leases_kept_on_register = 0;  // held leases an agent reported and kept
  std::uint64_t busy_refusals = 0;            // offers refused unrun: all slots busy
  std::uint64_t offers_lost = 0;              // offers the agent's heartbeat showed never arrived
};

// The latest progress message of a running job (what `farmctl watch` shows of a train
// job: step/total and "loss .. lr .. s/step ETA").
struct JobProgress {
  std::int64_t job_id = 0;
  std::string stage;
  std::uint32_t step = 0;
  std::uint32_t total = 0;
  std::string message;
};

class CoordinatorImpl;

class Coordinator {
 public:
  // Opens nothing itself: rebuilds the scheduler from `store` (Restore: every non-terminal
  // job and every open attempt), prepares the artifact root and clears stale uploads.
  // InvalidArgument for bad options; store errors as they come.
  static StatusOr<std::unique_ptr<Coordinator>> Create(CoordinatorOptions options,
                                                       store::Store& store,
                                                       transport::AgentLink& link,
                                                       const scheduler::Clock& clock);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // One loop iteration (see above). Returns an error when the link fails, or when the
  // store failed (fail-stop: a batch that could not be committed is never carried out
  // nor acknowledged, and every later call returns that error at once).
  Status RunOnce();
  // RunOnce until `stop` is set; then answers posted tasks that are still queued. A failing
  // link is retried every 100 ms; its error is returned after 50 failures in a row. A
  // store failure is returned at once, without running posted tasks.
  Status Run(const std::atomic<bool>& stop);

  // Expands a spec, stores the sweep (one transaction) and submits its new jobs.
  // InvalidArgument for a bad spec (every diagnostic in the message); store errors.
  StatusOr<SubmitResult> SubmitSweep(std::string_view yaml, std::string_view file_name,
                                     const sweep::SpecPresets& presets,
                                     sweep::SpecResolver& resolver, const SubmitOptions& options);
  // Cancels in the scheduler (the job and attempt rows follow with the next RunOnce's
  // decisions) and marks an unfinished sweep cancelled. Cancelling something finished
  // is a no-op; NotFound when the id is not in the database.
  Status CancelSweep(std::int64_t sweep_id, std::string_view reason);
  Status CancelJob(std::int64_t job_id, std::string_view reason);
  // Stores the sweep's new priority (the sweep row and its unfinished jobs, so a restart
  // keeps it) and reorders its queued jobs in the scheduler. NotFound for an unknown sweep.
  Status SetSweepPriority(std::int64_t sweep_id, int priority);
  // Drains (true) or resumes (false) an agent: a draining agent keeps and finishes its
  // leases and gets no new work. The request outlives the agent's reconnects and
  // restarts and farmd's restarts (agent_drain.cc) until it is resumed. NotFound for an
  // agent the database does not know.
  Status SetAgentDraining(const std::string& agent_id, bool draining);

  // Thread-safe: queues `task` for the loop thread. Tasks still queued when Run stops
  // are run then (so no caller waits forever).
  void Post(std::function<void()> task);

  // Prometheus text exposition of the loop, scheduler and link.
  std::string MetricsText() const;

  // The latest progress of the sweep's running jobs, by job id (loop thread only).
  std::vector<JobProgress> RunningProgress(std::int64_t sweep_id);

  scheduler::Scheduler& scheduler();
  store::Store& store();
  const LoopCounters& counters() const;
  const std::string& session_id() const;
  const std::string& artifact_root() const;  // CoordinatorOptions::artifact_root

 private:
  explicit Coordinator(std::unique_ptr<CoordinatorImpl> impl);
  std::unique_ptr<CoordinatorImpl> impl_;
};

}  // namespace farm::farmd
