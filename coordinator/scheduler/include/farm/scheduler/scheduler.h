// The farm's dispatch brain: a pure state machine. No I/O, threads, sockets, database or
// wall clock. farmd's event loop feeds it what happened (submissions, registrations,
// heartbeats, results, cancels, time via Tick), and drains the decisions it made
// (TakeDecisions) to carry out and persist them in one transaction per batch.
//
// Ownership and threading: farmd owns the Scheduler; the Clock must outlive it. Not
// thread-safe: every call comes from the one event-loop thread. Bad input (unknown ids,
// invalid specs) is answered with a Status; nothing aborts on input.
//
// Semantics
// - Order: runnable jobs are offered by priority (higher first), then submission order.
// - Matching: an agent is eligible for a job when it is online, runs the job's kind, has
//   the device kind and at least the device memory asked for, has not failed the job
//   before, and either can fetch models or caches every required one. Among eligible
//   agents, those caching every required model come first; then the smallest memory
//   that fits (best fit, keeping big cards for big jobs). A dispatched job's models count
//   as cached on its agents from then on.
// - Gangs: a job with gang_size K gets K slots in one lease (ranks may span agents of one
//   device kind) or nothing. Policy against starvation both ways: the first gang in
//   queue order that cannot be placed reserves K slots on eligible agents (freest
//   first). A reserved slot that frees up is held for the gang, except for jobs ordered
//   before it (higher priority). The gang starts as soon as K eligible slots are free
//   anywhere, and at the latest once the reserved agents' current leases have ended
//   (finished, failed or expired), so it cannot starve. Jobs after the gang keep
//   running on every other agent (backfilling), so small jobs are never stuck behind a
//   gang; they wait at most for the reservation to fill, and only when the reserved
//   agents are the only eligible ones. A gang larger than the live eligible capacity
//   reserves nothing and simply waits. One reservation exists at a time; it is planned
//   again after gang_replan_ms, and dropped when its agent is lost or its job leaves
//   the queue.
// - Dependencies: a job runs once all parents succeeded; when one fails, is cancelled or
//   skipped, every descendant not yet finished is skipped (transitively) with the reason.
// - Leases and fencing: a dispatch is a lease (job, attempt, agents, deadline). Only a
//   result from a holder of the job's current lease is accepted; a repeated result of an
//   accepted (job, attempt) is kDuplicate; any other is kStale. Heartbeats and progress
//   from a holder extend the deadline; a passed deadline (checked in Tick) requeues the
//   job with attempt + 1.
// - Liveness: an agent silent for heartbeat_interval_ms × heartbeat_liveness is lost;
//   its leases are requeued and its gang partners get CancelRequests. An agent that
//   registers again while online (it restarted) starts fresh: its leases are requeued,
//   unless it reports the leases it still holds (RegisterAgent with `held`: it only lost
//   its connection), which stay with it. An agent that lists every lease it holds in its
//   heartbeats has a lease it does not list (its offer was lost) requeued at once.
// - Busy refusals: a kReleased result with ResultReport::busy (the agent had no free
//   slot) does not count against max_attempts, and the agent gets no offer until its
//   next heartbeat (so a busy agent is not offered the job again and again).
// - Failures: a failure the agent marks permanent (ResultReport::permanent: a corrupt,
//   truncated or wrong model file, invalid parameters; the job cannot succeed anywhere)
//   fails the job at once with the agent's message, and its descendants are skipped.
//   A transient failure (crash, out of memory, a problem of that agent) excludes the
//   agent: it is never offered that job again; if no other eligible agent exists the
//   job waits in the queue (until an agent joins, or it is cancelled) and
//   UnrunnableJobs() says why. After max_distinct_agent_failures distinct agents failed
//   it, the job is failed with every attempt's error (JobInfo::attempts). Released
//   results requeue without blame. max_attempts bounds dispatches of any outcome.
// - Unrunnable jobs: a queued job is unrunnable while no online agent may ever take it,
//   free slots aside (every online agent failed it, none runs its kind, has its device
//   kind or memory, can get its models, or their slots together are fewer than its gang
//   size; or no agent is online). It stays queued: an agent that joins may run it.
// - Dedup: a kRender job (force = false) whose param_hash already has a result is
//   completed at once by linking to it (JobFinished::linked_to), never dispatched; while
//   an identical render is leased, duplicates wait and are linked when it succeeds (or
//   queue again when it does not). force = true renders anyway.
// - Cancel: queued or blocked jobs become cancelled; a leased one becomes cancelled at
//   once and its holders get CancelRequests; its slots stay busy until the holder
//   answers, the lease expires or the agent is lost. A result arriving in that window is
//   accepted with after_cancel set, so it is never lost; the job stays cancelled.
// - Recovery: Restore() rebuilds a fresh scheduler from the database. Leases whose
//   deadline passed are requeued at once; the others wait for their agents, which have
//   restore_grace_ms to register (a registration then resumes the leases instead of
//   starting fresh); after that their leases are requeued.
//
// Complexity (n queued jobs, C requirement classes = distinct (kind, device, memory,
// models, gang size, excluded agents) among queued jobs, A agents, F agents with a free
// slot, m models per job or agent, K gang size):
// - SubmitJobs: O(log n + m + deps) per job. Cancel: O(log n + descendants).
// - Schedule(): jobs live in per-class ordered sets, classes in an ordered set of their
//   heads. Each dispatch costs O(log n + log C + agent search); the agent search walks
//   the free agents caching the rarest required model, then the free agents of the
//   device kind from the smallest fitting memory, stopping at the first K eligible slots
//   (O(log F + skipped agents)). A class whose head cannot be placed is skipped whole for
//   the round, so a round costs O(dispatches × that + C log C). A round runs only when
//   something changed since the last one. Planning a gang reservation is O(A log A).
// - Heartbeat, progress, result: O(log A + log L + slots) (L open leases).
// - Tick: O(log A + log L) per expired agent or lease, plus a Schedule() round.
// - UnrunnableJobs: O(C × A + queued jobs of the unrunnable classes).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "farm/scheduler/clock.h"
#include "farm/scheduler/decisions.h"
#include "farm/scheduler/options.h"
#include "farm/scheduler/restore.h"
#include "farm/scheduler/specs.h"
#include "farm/scheduler/types.h"
#include "farm/schemas/status.h"

namespace farm::scheduler {

class SchedulerImpl;

// A job as the scheduler sees it now.
struct JobInfo {
  JobSpec spec;
  JobState state = JobState::kQueued;
  int attempt_count = 0;
  // Of attempt_count: refused busy or offer lost, not held against max_attempts (at most
  // kMaxUncountedAttempts of them are forgiven).
  int uncounted_attempts = 0;
  std::optional<LeaseRef> lease;         // the open lease, also while a cancel is draining
  TimeMs lease_deadline_ms = 0;          // of the open lease
  std::vector<AttemptRecord> attempts;   // every attempt, ascending
  std::vector<AgentId> excluded_agents;  // agents that failed it, sorted
  int unmet_parents = 0;
  std::string reason;
  std::optional<JobId> linked_to;
};

// A queued job that no online agent may take (see Semantics), and why, for a person:
// e.g. "failed on every online agent (a1, a2): data_loss: ...".
struct UnrunnableJob {
  JobId job = 0;
  SweepId sweep = 0;
  std::string reason;
};

struct AgentInfo {
  AgentId id;
  AgentState state = AgentState::kOffline;
  DeviceKind device = DeviceKind::kCpu;
  std::uint64_t device_memory_bytes = 0;
  int slots = 0;
  int busy_slots = 0;
  int reserved_slots = 0;   // held for a gang reservation
  TimeMs busy_slot_ms = 0;  // sum over slots of the time they held a lease
  TimeMs last_heard_ms = 0;
  std::vector<LeaseRef> leases;  // ascending job id
  std::vector<std::string> cached_models;  // models it holds (sha256), sorted
};

class Scheduler {
 public:
  // InvalidArgument when `options` fail ValidateOptions.
  static StatusOr<std::unique_ptr<Scheduler>> Create(const Clock& clock,
                                                     SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // ---- jobs ------------------------------------------------------------------------------

  // Adds jobs, all or none. A parent must be known already or come earlier in `jobs`.
  // InvalidArgument (bad spec, unknown parent), AlreadyExists (id known).
  Status SubmitJobs(std::vector<JobSpec> jobs);
  Status SubmitJob(JobSpec job);

  // Idempotent: cancelling a finished job changes nothing. NotFound for unknown ids.
  Status CancelJob(JobId job, std::string_view reason);
  Status CancelSweep(SweepId sweep, std::string_view reason);
  // Gives every unfinished job of the sweep `priority`; queued ones move to their new
  // place in the queue order (running ones keep their slots). NotFound for an unknown sweep.
  Status SetSweepPriority(SweepId sweep, int priority);

  // ---- agents ----------------------------------------------------------------------------

  // Registers (or re-registers, see above) an agent. InvalidArgument for a bad spec.
  Status RegisterAgent(const AgentSpec& spec);
  // Registration of an agent that reports every lease it still holds (running, or
  // finished with its result not yet acknowledged): a reconnect without a restart. Its
  // leases that are still current and listed in `held` stay with it (same attempt, slots
  // taken again, nothing requeued); its leases it does not list are requeued
  // (kAgentLost); listed leases that are not its current ones (an old attempt, a lease
  // that ended while it was away) get a CancelRequest. Also resumes restored leases after
  // a farmd restart the same way. InvalidArgument for a bad spec.
  Status RegisterAgent(const AgentSpec& spec, std::span<const LeaseRef> held);
  // Liveness, and extends every lease the agent holds. NotFound for an unknown agent;
  // FailedPrecondition for one that is not registered (lost, offline): tell it to
  // register again.
  Status Heartbeat(const AgentId& agent);
  // As Heartbeat, but extends only the current leases among `active` (those it did not
  // list run out at their deadline) and asks it to cancel listed leases it does not hold.
  Status Heartbeat(const AgentId& agent, std::span<const LeaseRef> active);
  // As Heartbeat(agent, active), from an agent whose `held` lists every lease it holds
  // (running or with an unacknowledged result). Each of its current leases that is
  // neither listed nor in `in_flight` was never received (a lost offer): it ends
  // (kAgentLost) and is requeued now. `in_flight` names leases whose offer was sent after
  // the agent built this heartbeat (farmd tells them apart by the envelope sequence the
  // agent acknowledges); they are judged by a later heartbeat. Also ends a busy pause.
  Status Heartbeat(const AgentId& agent, std::span<const LeaseRef> held,
                   std::span<const LeaseRef> in_flight);
  // true: the agent holds the lease, whose deadline was extended. false: it does not,
  // and a CancelRequest was issued. NotFound for an unknown agent or job.
  StatusOr<bool> ReportProgress(const AgentId& agent, LeaseRef lease);
  // Fencing and idempotency by (job, attempt), see ResultAck. NotFound for an unknown
  // agent or job; InvalidArgument for an attempt < 1.
  StatusOr<ResultAck> ReportResult(const AgentId& agent, const ResultReport& result);
  // Replaces the agent's cached model list (it evicted or downloaded models).
  Status UpdateCachedModels(const AgentId& agent, std::vector<std::string> models);
  // A draining agent keeps its leases and gets no new work. FailedPrecondition unless
  // the agent is online or draining.
  Status SetDraining(const AgentId& agent, bool draining);
  // The agent said goodbye: its leases are requeued, it goes offline. Idempotent.
  Status DeregisterAgent(const AgentId& agent, std::string_view reason);

  // ---- jobs the coordinator completes itself (SchedulerOptions::coordinator_kinds) ------

  // Jobs of a coordinator kind that became runnable since the last call, in order. Each
  // stays queued (no lease, no attempt) until CompleteCoordinatorJob.
  std::vector<JobId> TakeCoordinatorJobs();
  // Finishes such a job: succeeded (children released) or failed with `reason`
  // (descendants skipped); a JobFinished decision follows. NotFound for an unknown job;
  // FailedPrecondition unless it is a queued job of a coordinator kind (a cancelled one
  // changes nothing and says so).
  Status CompleteCoordinatorJob(JobId job, bool succeeded, std::string_view reason);

  // ---- time and matching -----------------------------------------------------------------

  // Declares silent agents lost, expires leases past their deadline, ends the restore
  // grace period, then runs Schedule(). Call it every ~100 ms and after a batch of input.
  void Tick();
  // Matches queued jobs to free slots (no timers). Cheap when nothing changed.
  void Schedule();

  // ---- recovery ----------------------------------------------------------------------------

  // Rebuilds the state after a restart. Only on a scheduler that has seen no job or
  // agent yet (FailedPrecondition otherwise); InvalidArgument for inconsistent input.
  Status Restore(RestoreInput input);

  // ---- output ------------------------------------------------------------------------------

  // The decisions made since the last call, in order. Drain it every loop iteration: the
  // scheduler keeps them until then.
  std::vector<Decision> TakeDecisions();

  // ---- metrics and queries -----------------------------------------------------------------

  std::size_t QueueDepth() const;    // runnable jobs waiting for slots (incl. dedup waits)
  std::size_t ActiveLeases() const;  // open leases, including draining cancels
  StateCounts CountsByState() const;
  // Slot-milliseconds the agent's slots held leases (cumulative, up to now).
  StatusOr<TimeMs> AgentBusyMs(const AgentId& agent) const;
  StatusOr<JobInfo> GetJob(JobId job) const;
  // Views for the event loop's hot path, without GetJob's copy of the whole record. The
  // pointer stays valid until the next call that changes the scheduler; null (nullopt)
  // for an unknown job.
  const JobSpec* FindJobSpec(JobId job) const;
  std::optional<JobState> FindJobState(JobId job) const;
  // true when `agent` holds a seat of `lease` and it is the job's open lease (also while
  // a cancel drains it): its chunks and results may be taken.
  bool HoldsLease(const AgentId& agent, LeaseRef lease) const;
  // Queued jobs no online agent may take, in queue order, with the reason (of `sweep`
  // only, when given). Not cheap (see Complexity): for status queries, not every loop.
  std::vector<UnrunnableJob> UnrunnableJobs(std::optional<SweepId> sweep = std::nullopt) const;
  StatusOr<AgentInfo> GetAgent(const AgentId& agent) const;
  std::vector<AgentInfo> Agents() const;  // every agent ever seen, by id
  const SchedulerOptions& options() const;

 private:
  explicit Scheduler(std::unique_ptr<SchedulerImpl> impl);
  std::unique_ptr<SchedulerImpl> impl_;
};

}  // namespace farm::scheduler
