// The scheduler's state and transitions behind the Scheduler facade. The methods are
// split by concern over scheduler_{jobs,leases,agents,results,dispatch,restore,
// queries}.cc. See farm/scheduler/scheduler.h for the contract.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent_table.h"
#include "dedup_index.h"
#include "farm/scheduler/scheduler.h"
#include "gang_reservation.h"
#include "job_table.h"
#include "lease_table.h"
#include "ready_queue.h"

namespace farm::scheduler {

// Why a job class cannot run; `with_error`: each job's last failure message belongs after
// the text.
struct UnrunnableClass {
  std::string text;
  bool with_error = false;
};

class SchedulerImpl {
 public:
  SchedulerImpl(const Clock& clock, SchedulerOptions options);

  // Public operations (see Scheduler).
  Status SubmitJobs(std::vector<JobSpec> jobs);
  Status CancelJob(JobId job, std::string_view reason);
  Status CancelSweep(SweepId sweep, std::string_view reason);
  Status SetSweepPriority(SweepId sweep, int priority);
  std::vector<JobId> TakeCoordinatorJobs();
  Status CompleteCoordinatorJob(JobId job, bool succeeded, std::string_view reason);
  Status RegisterAgent(const AgentSpec& spec, const std::span<const LeaseRef>* held = nullptr);
  Status HeartbeatHolding(const AgentId& agent, std::span<const LeaseRef> held,
                          std::span<const LeaseRef> in_flight);
  Status Heartbeat(const AgentId& agent, const std::span<const LeaseRef>* active);
  StatusOr<bool> ReportProgress(const AgentId& agent, LeaseRef lease);
  StatusOr<ResultAck> ReportResult(const AgentId& agent, const ResultReport& result);
  Status UpdateCachedModels(const AgentId& agent, std::vector<std::string> models);
  Status SetDraining(const AgentId& agent, bool draining);
  Status DeregisterAgent(const AgentId& agent, std::string_view reason);
  void Tick();
  void Schedule();
  Status Restore(RestoreInput input);
  std::vector<Decision> TakeDecisions();

  std::size_t QueueDepth() const;
  std::size_t ActiveLeases() const { return leases_.size(); }
  StateCounts CountsByState() const { return jobs_.counts(); }
  StatusOr<TimeMs> AgentBusyMs(const AgentId& agent) const;
  StatusOr<JobInfo> GetJob(JobId job) const;
  const JobSpec* FindJobSpec(JobId job) const;
  std::optional<JobState> FindJobState(JobId job) const;
  bool HoldsLease(const AgentId& agent, LeaseRef lease) const;
  std::vector<UnrunnableJob> UnrunnableJobs(std::optional<SweepId> sweep) const;
  StatusOr<AgentInfo> GetAgent(const AgentId& agent) const;
  std::vector<AgentInfo> Agents() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  // Time as the scheduler sees it: the clock, never going backwards.
  TimeMs Now();
  TimeMs PeekNow() const;

  // ---- job lifecycle (scheduler_jobs.cc) ----
  Status ValidateSubmission(const std::vector<JobSpec>& jobs) const;
  // blocked -> queued: links it to an existing render result or puts it in the queue.
  void MakeRunnable(JobRecord& job);
  void Enqueue(JobRecord& job);  // coordinator kinds go to coordinator_runnable_
  bool IsCoordinatorKind(JobKind kind) const;
  // Takes a queued job out of the ready queue (dropping a reservation it owns).
  void RemoveFromReady(JobRecord& job);
  // Sets a terminal state and reports it; no propagation.
  void MarkTerminal(JobRecord& job, JobState state, std::string reason,
                    std::optional<JobId> linked_to = std::nullopt);
  // Terminal state plus propagation: releases children, or skips descendants.
  void Finish(JobRecord& job, JobState state, std::string reason);
  // `producers` have a render result now: link their parked duplicates, and release the
  // children of every one that is succeeded (iteratively, through dedup links too).
  void PropagateSuccess(std::vector<JobRecord*> producers);
  // A non-forced duplicate of an existing render result becomes succeeded (linked).
  bool LinkToExistingResult(JobRecord& job);
  void SkipDescendants(JobRecord& root);
  // Cancels a job that is not finished; a leased one keeps its lease until the holder
  // answers (CancelRequests sent). Skips its descendants.
  void CancelOne(JobRecord& job, const std::string& reason);
  void ReleaseReservation();

  // ---- leases (scheduler_leases.cc) ----
  void DispatchJob(JobRecord& job, const std::vector<int>& agents);
  // Closes the job's open lease: frees its slots, records the attempt, reports it, and
  // sends CancelRequests to the other holders unless it succeeded.
  // `counted` false: the attempt is not held against max_attempts (refused busy, offer
  // lost), up to kMaxUncountedAttempts per job.
  void EndLease(JobRecord& job, AttemptOutcome outcome, const std::string& error, int reporter,
                bool counted = true);
  // After a lease ended without success: queue again, or fail past max_attempts.
  void RetryOrFail(JobRecord& job, int ended_attempt, const std::string& reason);
  // After `agent` reported a failure: exclude it; fail the job once enough distinct
  // agents failed it, else RetryOrFail.
  void FailOrRetry(JobRecord& job, int agent, int ended_attempt, const std::string& error);
  // After `agent` reported a permanent failure: the job fails now with its message.
  void FailPermanently(JobRecord& job, int agent, const std::string& error);
  void SendCancels(const Lease& lease, int skip_agent, const std::string& reason);
  // Declares the agent gone (lost/offline) and requeues its leases.
  void DropAgent(int handle, AgentState state, const std::string& reason);
  void ExpireLeases(TimeMs now);

  // ---- dispatch (scheduler_dispatch.cc) ----
  // Handles a head job that is a duplicate render: true when it left the queue.
  bool DeferDuplicate(JobRecord& job);
  void ConsiderReservation(const ReadyQueue::Head& head, const ClassKey& req, TimeMs now);

  // ---- agents (scheduler_agents.cc) ----
  StatusOr<AgentRecord*> LiveAgent(const AgentId& agent);
  void AdoptRestoredLeases(int handle, const std::vector<JobId>& jobs);
  // Re-registration with the leases the agent reports: ends its leases it does not list,
  // cancels listed ones that are not its own, returns the ones it keeps (slots freed, to
  // be adopted again after Activate).
  std::vector<JobId> ReconcileHeld(int handle, std::span<const LeaseRef> held);
  // true when the result of (job, attempt) was accepted: an agent listing it only waits
  // for its ack, and is not told to cancel it.
  bool ResultAccepted(LeaseRef ref) const;

  // ---- restore (scheduler_restore.cc) ----
  Status ValidateRestore(const RestoreInput& input) const;
  void OpenRestoredLease(JobRecord& job, const RestoredLease& lease);

  // Appends to the outbox (out of line: see scheduler_jobs.cc).
  void Emit(Decision decision);

  // Why no online agent may take jobs of class `req`; nullopt when some agent may
  // (scheduler_unrunnable.cc). O(A).
  std::optional<UnrunnableClass> WhyUnrunnable(const ClassKey& req) const;

  JobInfo MakeJobInfo(const JobRecord& job) const;
  AgentInfo MakeAgentInfo(const AgentRecord& agent) const;

  const Clock& clock_;
  const SchedulerOptions options_;
  TimeMs last_now_ = 0;

  JobTable jobs_;
  AgentTable agents_;
  ReadyQueue ready_;
  LeaseTable leases_;
  DedupIndex dedup_;
  GangReservation reservation_;

  std::vector<Decision> outbox_;
  std::vector<JobId> coordinator_runnable_;  // coordinator-kind jobs not yet taken
  bool dirty_ = true;  // something changed that may allow a dispatch
  std::optional<TimeMs> restore_grace_until_;
  std::vector<int> awaiting_agents_;
};

}  // namespace farm::scheduler
