// Results: fencing by lease, idempotency by (job, attempt), and what each outcome means.
#include <string>

#include "scheduler_impl.h"

namespace farm::scheduler {
namespace {

AttemptOutcome OutcomeOf(ResultKind kind) {
  switch (kind) {
    case ResultKind::kSucceeded:
      return AttemptOutcome::kSucceeded;
    case ResultKind::kFailed:
      return AttemptOutcome::kFailed;
    case ResultKind::kCancelled:
      return AttemptOutcome::kCancelled;
    case ResultKind::kReleased:
      return AttemptOutcome::kReleased;
  }
  return AttemptOutcome::kFailed;
}

}  // namespace

StatusOr<ResultAck> SchedulerImpl::ReportResult(const AgentId& id, const ResultReport& result) {
  AgentRecord* agent = agents_.Find(id);
  if (agent == nullptr) return NotFound("result from unknown agent '" + id + "'");
  JobRecord* job = jobs_.Find(result.lease.job);
  if (job == nullptr) {
    return NotFound("result for unknown job " + std::to_string(result.lease.job));
  }
  const int attempt = result.lease.attempt;
  if (attempt < 1) {
    return InvalidArgument("result for job " + std::to_string(job->spec.id) + " with attempt " +
                           std::to_string(attempt) + " (attempts start at 1)");
  }
  agents_.Heard(agent->handle, Now(), LivenessTimeoutMs(options_));

  // Named only in a refusal: an accepted result builds no string.
  auto lease_name = [&] {
    return "job " + std::to_string(job->spec.id) + " attempt " + std::to_string(attempt);
  };
  if (const AttemptRecord* record = job->FindAttempt(attempt);
      record != nullptr && record->result_accepted) {
    return ResultAck{ResultVerdict::kDuplicate, false,
                     "the result of " + lease_name() + " was already accepted"};
  }
  const Lease* lease = leases_.Find(job->spec.id);
  if (lease == nullptr || lease->attempt != attempt) {
    const std::string current =
        lease == nullptr ? "no open lease" : "current attempt " + std::to_string(lease->attempt);
    return ResultAck{ResultVerdict::kStale, false,
                     lease_name() + " is not current (" + current + ")"};
  }
  if (!lease->HeldBy(agent->handle)) {
    return ResultAck{ResultVerdict::kStale, false,
                     "agent '" + id + "' does not hold the lease of " + lease_name()};
  }

  const bool after_cancel = lease->cancelling;
  if (AttemptRecord* record = job->FindAttempt(attempt)) {
    record->result_accepted = true;
    record->reported_by = id;
  }
  const AttemptOutcome outcome = OutcomeOf(result.kind);
  // Refused unrun for want of a slot: no attempt spent.
  const bool refused_busy = result.kind == ResultKind::kReleased && result.busy;
  EndLease(*job, outcome, result.error, agent->handle, /*counted=*/!refused_busy);
  const ResultAck accepted{ResultVerdict::kAccepted, after_cancel, ""};
  if (after_cancel) {
    // Kept, not counted: the job stays cancelled, but a finished render is a result that
    // later duplicates link to.
    if (outcome == AttemptOutcome::kSucceeded) PropagateSuccess({job});
    return accepted;
  }
  switch (result.kind) {
    case ResultKind::kSucceeded:
      Finish(*job, JobState::kSucceeded, "");
      break;
    case ResultKind::kFailed:
      if (result.permanent) {
        FailPermanently(*job, agent->handle, result.error);
      } else {
        FailOrRetry(*job, agent->handle, attempt, result.error);
      }
      break;
    case ResultKind::kCancelled:
    case ResultKind::kReleased:
      if (refused_busy) {
        // No further offer to this agent until its next heartbeat says what it holds.
        agents_.SetPaused(agent->handle, true);
      }
      RetryOrFail(*job, attempt,
                  "agent '" + id + "' gave the job back" +
                      (result.error.empty() ? "" : ": " + result.error));
      break;
  }
  return accepted;
}

}  // namespace farm::scheduler
