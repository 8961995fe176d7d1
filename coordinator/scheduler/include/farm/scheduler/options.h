// Tunables of the scheduler. farmd fills this from farm_configs/*.yaml once in main();
// the scheduler never reads files or the environment.
#pragma once

#include <vector>

#include "farm/scheduler/types.h"
#include "farm/schemas/status.h"

namespace farm::scheduler {

// Attempts a job may spend without counting against max_attempts (offers refused because
// the agent was busy, offers lost on the wire); past this many they count like any other,
// so an agent that keeps refusing or losing one job cannot requeue it forever.
inline constexpr int kMaxUncountedAttempts = 16;

struct SchedulerOptions {
  // How often agents heartbeat (farmd sends it to them in Welcome). Default 1000 ms.
  TimeMs heartbeat_interval_ms = 1000;

  // Missed heartbeat intervals before an agent is declared dead: an agent silent for
  // heartbeat_interval_ms × heartbeat_liveness (default 1 s × 3 = 3 s) is lost and its
  // leases are requeued. Larger values ride out network hiccups but requeue work from a
  // crashed agent later. Default 3 (zguide's Paranoid Pirate value).
  int heartbeat_liveness = 3;

  // Length of a lease: a dispatch's deadline is now + lease_timeout_ms, and every
  // heartbeat or progress report from the holder pushes it to now + lease_timeout_ms.
  // It catches agents that are alive but lost the job (a dropped offer, a restarted
  // worker). Keep it above the liveness window, or a short stall of the holder expires
  // the lease before its agent would be declared dead. Default 30 s.
  TimeMs lease_timeout_ms = 30'000;

  // A job that failed on this many distinct agents is failed for good, with every
  // attempt's error kept. Default 3.
  int max_distinct_agent_failures = 3;

  // Dispatches of one job, whatever ended them (failure, lost agent, expired lease,
  // release), before the job is failed: stops a job that crashes its agent from cycling
  // through the farm forever. 0 = unlimited. Default 10.
  int max_attempts = 10;

  // After Restore(), how long an agent named by a restored lease has to register again
  // before its leases are requeued (agents reconnect with back-off). Default 10 s.
  TimeMs restore_grace_ms = 10'000;

  // Gang jobs (gang_size > 1) that cannot be placed reserve slots on eligible agents so
  // that small jobs behind them cannot starve them (see scheduler.h). false: gangs only
  // run when enough slots happen to be free at once. Default true.
  bool gang_reservation = true;

  // A gang reservation that is still unfilled after this long is planned again, on the
  // agents that are freest by then. Default 60 s.
  TimeMs gang_replan_ms = 60'000;

  // Job kinds the coordinator completes itself (farmd: kScore, cheap math on data it
  // already holds). Such a job is never offered to an agent: once runnable it waits for
  // Scheduler::TakeCoordinatorJobs and CompleteCoordinatorJob. Default none.
  std::vector<JobKind> coordinator_kinds;
};

// InvalidArgument naming the first bad field (non-positive interval, liveness, lease
// timeout, failure limit or replan period; negative max_attempts or restore grace;
// a liveness window that overflows).
Status ValidateOptions(const SchedulerOptions& options);

// heartbeat_interval_ms × heartbeat_liveness.
TimeMs LivenessTimeoutMs(const SchedulerOptions& options);

}  // namespace farm::scheduler
