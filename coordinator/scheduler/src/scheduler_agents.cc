// Agents: registration, heartbeats, progress, cached models, drain and goodbye.
#include <string>
#include <utility>

#include "scheduler_impl.h"

namespace farm::scheduler {
namespace {

bool Connected(const AgentRecord& agent) {
  return agent.state == AgentState::kOnline || agent.state == AgentState::kDraining;
}

}  // namespace

StatusOr<AgentRecord*> SchedulerImpl::LiveAgent(const AgentId& id) {
  AgentRecord* agent = agents_.Find(id);
  if (agent == nullptr) return NotFound("unknown agent '" + id + "'");
  if (!Connected(*agent)) {
    return FailedPrecondition("agent '" + id + "' is " + Name(agent->state) +
                              ": it must register again");
  }
  return agent;
}

Status SchedulerImpl::RegisterAgent(const AgentSpec& spec) {
  FARM_RETURN_IF_ERROR(ValidateAgentSpec(spec));
  const TimeMs now = Now();
  const int handle = agents_.Intern(spec.id);
  AgentRecord& agent = agents_.Get(handle);
  if (agent.state == AgentState::kAwaitingReconnect) {
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
    } else {
      Emit(CancelRequest{ref.job, ref.attempt, agent->id,
                         "the agent reports a lease it does not hold"});
    }
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
