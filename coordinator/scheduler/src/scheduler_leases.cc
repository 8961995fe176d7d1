// Leases: dispatch, end of an attempt, retry policy, lost agents and expiry timers.
#include <algorithm>
#include <string>
#include <utility>

#include "scheduler_impl.h"

namespace farm::scheduler {
namespace {

std::string AttemptsSummary(const JobRecord& job) {
  std::string out;
  for (const AttemptRecord& rec : job.attempts) {
    if (!rec.outcome) continue;
    if (!out.empty()) out += "; ";
    out += "attempt " + std::to_string(rec.attempt) + " on ";
    for (std::size_t i = 0; i < rec.agents.size(); ++i) {
      out += (i == 0 ? "" : ",") + rec.agents[i];
    }
    out += std::string(" ") + Name(*rec.outcome);
    if (!rec.error.empty()) out += ": " + rec.error;
  }
  return out;
}

}  // namespace

void SchedulerImpl::DispatchJob(JobRecord& job, const std::vector<int>& agents) {
  const TimeMs now = Now();
  RemoveFromReady(job);
  const int attempt = ++job.attempt_count;
  Lease lease{job.spec.id, attempt, {}, now, now + options_.lease_timeout_ms, false};
  Dispatch dispatch{job.spec.id, attempt, {}, now, lease.deadline_ms};
  AttemptRecord record;
  record.attempt = attempt;
  record.leased_at_ms = now;
  record.deadline_ms = lease.deadline_ms;
  for (int rank = 0; rank < static_cast<int>(agents.size()); ++rank) {
    const int handle = agents[rank];
    const int slot = agents_.Occupy(handle, job.spec.id, now);
    lease.seats.push_back(Seat{handle, slot, rank});
    dispatch.placements.push_back(Placement{agents_.Get(handle).id, slot, rank});
    record.agents.push_back(agents_.Get(handle).id);
  }
  // The holders fetch the job's models to run it: count them as cached from now on.
  for (int handle : lease.Agents()) {
    if (!agents_.Get(handle).Caches(job.spec.required_models)) {
      agents_.AddCachedModels(handle, job.spec.required_models);
    }
  }
  job.attempts.push_back(std::move(record));
  jobs_.SetState(job, JobState::kLeased);
  if (job.spec.kind == JobKind::kRender && !job.spec.force) {
    dedup_.Get(job.spec.param_hash).in_flight = job.spec.id;
  }
  leases_.Open(std::move(lease));
  Emit(std::move(dispatch));
}

void SchedulerImpl::SendCancels(const Lease& lease, int skip_agent, const std::string& reason) {
  for (int handle : lease.Agents()) {
    const AgentRecord& agent = agents_.Get(handle);
    if (handle == skip_agent) continue;
    if (agent.state != AgentState::kOnline && agent.state != AgentState::kDraining) continue;
    Emit(CancelRequest{lease.job, lease.attempt, agent.id, reason});
  }
}

void SchedulerImpl::EndLease(JobRecord& job, AttemptOutcome outcome, const std::string& error,
                             int reporter, bool counted) {
  Lease* open = leases_.Find(job.spec.id);
  if (open == nullptr) return;
  const TimeMs now = Now();
  const Lease lease = *open;  // a copy: Close() destroys the original
  leases_.Close(job.spec.id);
  for (const Seat& seat : lease.seats) {
    AgentRecord& agent = agents_.Get(seat.agent);
    if (seat.slot >= 0) {
      agents_.Release(seat.agent, seat.slot, now);
    } else {
      std::erase(agent.restored_jobs, job.spec.id);
    }
  }
  if (outcome != AttemptOutcome::kSucceeded && !lease.cancelling) {
    SendCancels(
        lease, reporter,
        std::string("lease ended (") + Name(outcome) + ")" + (error.empty() ? "" : ": " + error));
  }
  if (outcome == AttemptOutcome::kSucceeded && lease.seats.size() > 1 && !lease.cancelling) {
    // The gang's result is in: partner seats wait for a cancel to return (their slots are
    // free already; their late results are duplicates). The reporter's agent too when it
    // holds further seats of the gang.
    const auto reporter_seats = std::count_if(lease.seats.begin(), lease.seats.end(),
                                              [&](const Seat& s) { return s.agent == reporter; });
    SendCancels(lease, reporter_seats > 1 ? -1 : reporter, "gang finished");
  }
  if (AttemptRecord* record = job.FindAttempt(lease.attempt)) {
    record->outcome = outcome;
    record->error = error;
    record->deadline_ms = lease.deadline_ms;
  }
  if (!counted) ++job.uncounted_attempts;
  Emit(AttemptEnded{job.spec.id, lease.attempt, outcome, error, lease.cancelling, now, counted});
  if (outcome != AttemptOutcome::kSucceeded && job.spec.kind == JobKind::kRender) {
    // The render in flight did not produce a result: its duplicates queue again.
    DedupIndex::Group* group = dedup_.Find(job.spec.param_hash);
    if (group != nullptr && group->in_flight == job.spec.id) {
      group->in_flight = 0;
      std::vector<JobId> parked;
      parked.swap(group->parked);
      for (JobId id : parked) {
        JobRecord* dup = jobs_.Find(id);
        if (dup == nullptr || !dup->parked || dup->state != JobState::kQueued) continue;
        dup->parked = false;
        Enqueue(*dup);
      }
    }
  }
  dirty_ = true;
}

void SchedulerImpl::RetryOrFail(JobRecord& job, int ended_attempt, const std::string& reason) {
  if (IsTerminal(job.state)) return;
  // Free attempts are capped, so an agent that keeps losing or refusing one job's offers
  // cannot requeue it forever.
  const int counted =
      job.attempt_count - std::min(job.uncounted_attempts, kMaxUncountedAttempts);
  if (options_.max_attempts > 0 && counted >= options_.max_attempts) {
    Finish(job, JobState::kFailed,
           "gave up after " + std::to_string(counted) +
               " attempts (max_attempts): " + AttemptsSummary(job));
    return;
  }
  Emit(Requeue{job.spec.id, ended_attempt, reason});
  MakeRunnable(job);
}

void SchedulerImpl::FailOrRetry(JobRecord& job, int agent, int ended_attempt,
                                const std::string& error) {
  auto it = std::lower_bound(job.excluded.begin(), job.excluded.end(), agent);
  if (it == job.excluded.end() || *it != agent) job.excluded.insert(it, agent);
  const int distinct = static_cast<int>(job.excluded.size());
  if (distinct >= options_.max_distinct_agent_failures) {
    Finish(job, JobState::kFailed,
           "failed on " + std::to_string(distinct) + " distinct agents: " + AttemptsSummary(job));
    return;
  }
  RetryOrFail(job, ended_attempt,
              "failed on agent " + agents_.Get(agent).id + (error.empty() ? "" : ": " + error));
}

void SchedulerImpl::FailPermanently(JobRecord& job, int agent, const std::string& error) {
  auto it = std::lower_bound(job.excluded.begin(), job.excluded.end(), agent);
  if (it == job.excluded.end() || *it != agent) job.excluded.insert(it, agent);
  // Another agent would read the same bytes or parameters: no retry, the agent's words.
  Finish(job, JobState::kFailed,
         "failed on agent " + agents_.Get(agent).id + " (permanent, not retried): " +
             (error.empty() ? std::string("no error message") : error));
}

void SchedulerImpl::DropAgent(int handle, AgentState state, const std::string& reason) {
  if (reservation_.active() && reservation_.Covers(handle)) ReleaseReservation();
  for (JobId id : agents_.Get(handle).Leases()) {
    JobRecord& job = *jobs_.Find(id);
    const Lease* lease = leases_.Find(id);
    if (lease == nullptr) continue;
    const bool cancelling = lease->cancelling;
    const int attempt = lease->attempt;
    EndLease(job, AttemptOutcome::kAgentLost, reason, handle);
    if (!cancelling) RetryOrFail(job, attempt, reason);
  }
  agents_.Deactivate(handle, state, Now());
  dirty_ = true;
}

void SchedulerImpl::ExpireLeases(TimeMs now) {
  for (JobId id : leases_.ExpiredAt(now)) {
    JobRecord& job = *jobs_.Find(id);
    const Lease* lease = leases_.Find(id);
    if (lease == nullptr) continue;
    const bool cancelling = lease->cancelling;
    const int attempt = lease->attempt;
    EndLease(job, AttemptOutcome::kExpired,
             "lease deadline passed without heartbeat or progress from its holder", -1);
    if (!cancelling) RetryOrFail(job, attempt, "lease expired");
  }
}

void SchedulerImpl::Tick() {
  const TimeMs now = Now();
  if (restore_grace_until_ && now >= *restore_grace_until_) {
    for (int handle : awaiting_agents_) {
      if (agents_.Get(handle).state != AgentState::kAwaitingReconnect) continue;
      DropAgent(handle, AgentState::kLost,
                "agent did not reconnect within " + std::to_string(options_.restore_grace_ms) +
                    " ms of the coordinator's restart");
    }
    awaiting_agents_.clear();
    restore_grace_until_.reset();
  }
  for (int handle : agents_.SilentAt(now)) {
    DropAgent(handle, AgentState::kLost,
              "agent silent for " + std::to_string(now - agents_.Get(handle).last_heard_ms) +
                  " ms (liveness " + std::to_string(options_.heartbeat_liveness) + " x " +
                  std::to_string(options_.heartbeat_interval_ms) + " ms)");
  }
  ExpireLeases(now);
  Schedule();
}

}  // namespace farm::scheduler
