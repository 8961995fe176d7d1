// Agents: registration, heartbeats, progress, cached models, drain and goodbye.
#include <algorithm>
#include <string>
#include <utility>

#include "scheduler_impl.h"

namespace farm::scheduler {
namespace {

bool Connected(const AgentRecord& agent) {
  return agent.state == AgentState::kOnline || agent.state == AgentState::kDraining;
}

}  // namespace

bool SchedulerImpl::ResultAccepted(LeaseRef ref) const {
  const JobRecord* job = jobs_.Find(ref.job);
  if (job == nullptr) return false;
  const AttemptRecord* record = job->FindAttempt(ref.attempt);
  return record != nullptr && record->result_accepted;
}

StatusOr<AgentRecord*> SchedulerImpl::LiveAgent(const AgentId& id) {
  AgentRecord* agent = agents_.Find(id);
  if (agent == nullptr) return NotFound("unknown agent '" + id + "'");
  if (!Connected(*agent)) {
    return FailedPrecondition("agent '" + id + "' is " + Name(agent->state) +
                              ": it must register again");
  }
  return agent;
}

Status SchedulerImpl::RegisterAgent(const AgentSpec& spec, const std::span<const LeaseRef>* held) {
  FARM_RETURN_IF_ERROR(ValidateAgentSpec(spec));
  const TimeMs now = Now();
  const int handle = agents_.Intern(spec.id);
  AgentRecord& agent = agents_.Get(handle);
  if (held != nullptr) {
    // The agent says what it still holds: whatever its state here, the leases it lists
    // that are current stay with it (a reconnect loses no work), the others end.
    if (reservation_.active() && reservation_.Covers(handle)) ReleaseReservation();
    const std::vector<JobId> kept = ReconcileHeld(handle, *held);
    agents_.Activate(handle, spec, now, LivenessTimeoutMs(options_));
    AdoptRestoredLeases(handle, kept);
  } else if (agent.state == AgentState::kAwaitingReconnect) {
    // farmd restarted, the agent did not: it resumes the leases restored for it.
    const std::vector<JobId> restored = agent.restored_jobs;
    agents_.Activate(handle, spec, now, LivenessTimeoutMs(options_));
    AdoptRestoredLeases(handle, restored);
  } else {
    if (Connected(agent)) {
      DropAgent(handle, AgentState::kOffline,
                "agent '" + spec.id + "' registered again: it restarted and lost its work");
    }
    agents_.Activate(handle, spec, now, LivenessTimeoutMs(options_));
  }
  dirty_ = true;
  return Status::Ok();
}

std::vector<JobId> SchedulerImpl::ReconcileHeld(int handle, std::span<const LeaseRef> held) {
  const AgentId id = agents_.Get(handle).id;
  const TimeMs now = Now();
  std::vector<JobId> kept;
  // Its leases here (in slots, or restored after a farmd restart) against its report.
  for (JobId job_id : agents_.Get(handle).Leases()) {
    Lease* lease = leases_.Find(job_id);
    if (lease == nullptr) continue;
    const bool listed = std::any_of(held.begin(), held.end(), [&](const LeaseRef& ref) {
      return ref.job == job_id && ref.attempt == lease->attempt;
    });
    if (listed) {
      // Its slots are taken again after Activate (AdoptRestoredLeases), as after a restore.
      for (Seat& seat : lease->seats) {
        if (seat.agent != handle || seat.slot < 0) continue;
        agents_.Release(handle, seat.slot, now);
        seat.slot = -1;
      }
      kept.push_back(job_id);
      continue;
    }
    const bool cancelling = lease->cancelling;
    const int attempt = lease->attempt;
    const std::string reason =
        "agent '" + id + "' registered again without this lease among those it holds";
    EndLease(*jobs_.Find(job_id), AttemptOutcome::kAgentLost, reason, handle);
    if (!cancelling) RetryOrFail(*jobs_.Find(job_id), attempt, reason);
  }
  // Listed leases that are not (or no longer) its own: the fencing token is stale.
  for (const LeaseRef& ref : held) {
    const Lease* lease = leases_.Find(ref.job);
    const bool current = lease != nullptr && lease->attempt == ref.attempt &&
                         std::find(kept.begin(), kept.end(), ref.job) != kept.end();
    if (!current && !ResultAccepted(ref)) {
      Emit(CancelRequest{ref.job, ref.attempt, id,
                         "the agent reports a lease it does not hold (stale after its reconnect)"});
    }
  }
  return kept;
}

void SchedulerImpl::AdoptRestoredLeases(int handle, const std::vector<JobId>& jobs) {
  const TimeMs now = Now();
  for (JobId id : jobs) {
    Lease* lease = leases_.Find(id);
    if (lease == nullptr) continue;
    bool fits = true;
    for (Seat& seat : lease->seats) {
      if (seat.agent != handle || seat.slot >= 0) continue;
      if (agents_.Get(handle).free_slots == 0) {
        fits = false;
        break;
      }
      seat.slot = agents_.Occupy(handle, id, now);
    }
    if (fits) {
      // A cancel issued while the agent was away could not be delivered: deliver it now.
      if (lease->cancelling) {
        Emit(CancelRequest{id, lease->attempt, agents_.Get(handle).id, "the job was cancelled"});
      }
      continue;
    }
    const bool cancelling = lease->cancelling;
    const int attempt = lease->attempt;
    JobRecord& job = *jobs_.Find(id);
    const std::string reason = "agent '" + agents_.Get(handle).id +
                               "' came back with fewer slots than its restored leases";
    EndLease(job, AttemptOutcome::kAgentLost, reason, -1);
    if (!cancelling) RetryOrFail(job, attempt, reason);
  }
}

Status SchedulerImpl::Heartbeat(const AgentId& id, const std::span<const LeaseRef>* active) {
  FARM_ASSIGN_OR_RETURN(AgentRecord * agent, LiveAgent(id));
  const TimeMs now = Now();
  agents_.Heard(agent->handle, now, LivenessTimeoutMs(options_));
  const TimeMs deadline = now + options_.lease_timeout_ms;
  if (active == nullptr) {
    for (JobId job : agent->Leases()) leases_.Extend(job, deadline);
    return Status::Ok();
  }
  for (const LeaseRef& ref : *active) {
    const Lease* lease = leases_.Find(ref.job);
    if (lease != nullptr && lease->attempt == ref.attempt && lease->HeldBy(agent->handle)) {
      leases_.Extend(ref.job, deadline);
    } else if (!ResultAccepted(ref)) {  // else: only its ack is still on the way
      Emit(CancelRequest{ref.job, ref.attempt, agent->id,
                         "the agent reports a lease it does not hold"});
    }
  }
  return Status::Ok();
}

Status SchedulerImpl::HeartbeatHolding(const AgentId& id, std::span<const LeaseRef> held,
                                       std::span<const LeaseRef> in_flight) {
  FARM_RETURN_IF_ERROR(Heartbeat(id, &held));
  AgentRecord* agent = agents_.Find(id);
  const int handle = agent->handle;
  auto listed = [](std::span<const LeaseRef> refs, JobId job, int attempt) {
    return std::any_of(refs.begin(), refs.end(),
                       [&](const LeaseRef& r) { return r.job == job && r.attempt == attempt; });
  };
  for (JobId job_id : agent->Leases()) {
    const Lease* lease = leases_.Find(job_id);
    if (lease == nullptr || listed(held, job_id, lease->attempt) ||
        listed(in_flight, job_id, lease->attempt)) {
      continue;
    }
    // The agent had received everything sent before this lease's offer... and the offer
    // too, yet does not hold it: the offer was lost on the way.
    const bool cancelling = lease->cancelling;
    const int attempt = lease->attempt;
    const std::string reason = "agent '" + id + "' does not hold the lease: its offer was lost";
    EndLease(*jobs_.Find(job_id), AttemptOutcome::kAgentLost, reason, handle,
             /*counted=*/false);  // the wire lost it, not the job
    if (!cancelling) RetryOrFail(*jobs_.Find(job_id), attempt, reason);
  }
  // What it holds is known again: a busy pause ends.
  if (agents_.Get(handle).paused) {
    agents_.SetPaused(handle, false);
    dirty_ = true;
  }
  return Status::Ok();
}

StatusOr<bool> SchedulerImpl::ReportProgress(const AgentId& id, LeaseRef ref) {
  AgentRecord* agent = agents_.Find(id);
  if (agent == nullptr) return NotFound("progress from unknown agent '" + id + "'");
  if (!jobs_.Contains(ref.job)) {
    return NotFound("progress for unknown job " + std::to_string(ref.job));
  }
  const TimeMs now = Now();
  agents_.Heard(agent->handle, now, LivenessTimeoutMs(options_));
  // A lost or offline agent holds no lease (they ended when it went); one awaiting
  // reconnection after a restore does, and may report progress before registering.
  const Lease* lease = leases_.Find(ref.job);
  if (lease != nullptr && lease->attempt == ref.attempt && lease->HeldBy(agent->handle)) {
    leases_.Extend(ref.job, now + options_.lease_timeout_ms);
    return true;
  }
  Emit(CancelRequest{ref.job, ref.attempt, agent->id,
                     "progress for a lease the agent does not hold"});
  return false;
}

Status SchedulerImpl::UpdateCachedModels(const AgentId& id, std::vector<std::string> models) {
  FARM_ASSIGN_OR_RETURN(AgentRecord * agent, LiveAgent(id));
  for (const std::string& model : models) {
    if (model.empty()) return InvalidArgument("agent '" + id + "': empty cached model hash");
  }
  agents_.Heard(agent->handle, Now(), LivenessTimeoutMs(options_));
  agents_.SetCachedModels(agent->handle, models);
  dirty_ = true;
  return Status::Ok();
}

Status SchedulerImpl::SetDraining(const AgentId& id, bool draining) {
  FARM_ASSIGN_OR_RETURN(AgentRecord * agent, LiveAgent(id));
  agents_.Heard(agent->handle, Now(), LivenessTimeoutMs(options_));
  agents_.SetDraining(agent->handle, draining);
  if (draining && reservation_.active() && reservation_.Covers(agent->handle)) {
    ReleaseReservation();
  }
  dirty_ = true;
  return Status::Ok();
}

Status SchedulerImpl::DeregisterAgent(const AgentId& id, std::string_view reason) {
  AgentRecord* agent = agents_.Find(id);
  if (agent == nullptr) return NotFound("cannot deregister unknown agent '" + id + "'");
  if (Connected(*agent) || agent->state == AgentState::kAwaitingReconnect) {
    DropAgent(agent->handle, AgentState::kOffline,
              "agent deregistered" + (reason.empty() ? std::string() : ": " + std::string(reason)));
  }
  return Status::Ok();
}

}  // namespace farm::scheduler
