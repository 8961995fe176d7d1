// Everything the scheduler decides, as data. farmd carries the decisions out (sends
// offers and cancels over the transport) and persists them (one transaction per batch),
// in the order they were made.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "farm/scheduler/types.h"

namespace farm::scheduler {

// One gang rank (or the single rank of an ordinary job) on one agent slot.
struct Placement {
  AgentId agent;
  int slot = 0;  // 0-based slot index on that agent
  int rank = 0;  // 0-based rank within the gang; JobOffer.gang_rank
};

// A new lease: send a JobOffer per placement, insert an attempts row, set the job
// leased with attempt_count = attempt.
struct Dispatch {
  JobId job = 0;
  int attempt = 0;
  std::vector<Placement> placements;  // gang_size entries, in rank order
  TimeMs leased_at_ms = 0;
  TimeMs deadline_ms = 0;  // extended later by heartbeats and progress (not re-announced)
  LeaseRef lease() const { return {job, attempt}; }
};

// Tell `agent` to stop working on (job, attempt): the job was cancelled or skipped, the
// lease expired, a gang partner failed or was lost, or the agent reported a lease that is
// no longer its own.
struct CancelRequest {
  JobId job = 0;
  int attempt = 0;
  AgentId agent;
  std::string reason;
};

// A lease ended: close the attempts row.
struct AttemptEnded {
  JobId job = 0;
  int attempt = 0;
  AttemptOutcome outcome = AttemptOutcome::kExpired;
  std::string error;          // the holder's error, or why the lease ended
  bool after_cancel = false;  // the job had already been cancelled or skipped
  TimeMs at_ms = 0;
  // false: not held against max_attempts (refused busy, offer lost on the wire)
  bool counted = true;
};

// The job goes back to the queue (state queued); its next dispatch is attempt + 1.
struct Requeue {
  JobId job = 0;
  int ended_attempt = 0;
  std::string reason;
};

// The job reached a terminal state (exactly once per job).
struct JobFinished {
  JobId job = 0;
  JobState state = JobState::kSucceeded;
  std::string reason;  // why: the errors of a failed job, the parent of a skipped one, ...
  // Set when a render was completed by linking to the result of this earlier job with
  // the same param_hash instead of being rendered again.
  std::optional<JobId> linked_to;
};

using Decision = std::variant<Dispatch, CancelRequest, AttemptEnded, Requeue, JobFinished>;

// ---- results -----------------------------------------------------------------------------

// farm.proto's ResultStatus.
enum class ResultKind { kSucceeded, kFailed, kCancelled, kReleased };

struct ResultReport {
  LeaseRef lease;
  ResultKind kind = ResultKind::kSucceeded;
  std::string error;  // for kFailed: what failed, for a person
  // For kFailed: the job cannot succeed on any agent (a corrupt or wrong model file,
  // invalid parameters), so it fails at once instead of being retried elsewhere. false:
  // transient (crash, out of memory, a problem of this agent), retried on another agent.
  bool permanent = false;
  // For kReleased: the agent refused the offer unrun because all its slots were busy
  // (its view of its slots and farmd's differed). Does not count as an attempt.
  bool busy = false;
};

enum class ResultVerdict {
  kAccepted,   // the result is the current lease holder's: persist it
  kDuplicate,  // the result of this (job, attempt) was already accepted: ack, change nothing
  kStale,      // not the current holder (old attempt, other agent, lease over): ack, ignore
};

// What to answer the agent (ResultAck.accepted = verdict != kStale) and whether to keep
// the result.
struct ResultAck {
  ResultVerdict verdict = ResultVerdict::kStale;
  // The job had been cancelled (or skipped) while the result was on its way. The result
  // is still accepted and must be kept (a finished render is never lost), but the job
  // stays cancelled.
  bool after_cancel = false;
  std::string reason;  // why a result was not accepted
};

}  // namespace farm::scheduler
