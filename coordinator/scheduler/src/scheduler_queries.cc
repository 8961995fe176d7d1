// Metrics and read-only views.
#include <algorithm>
#include <string>

#include "scheduler_impl.h"

namespace farm::scheduler {

std::size_t SchedulerImpl::QueueDepth() const {
  // Queued jobs are either in the ready queue or parked behind an identical render.
  return jobs_.counts()[JobState::kQueued];
}

StatusOr<TimeMs> SchedulerImpl::AgentBusyMs(const AgentId& id) const {
  const AgentRecord* agent = agents_.Find(id);
  if (agent == nullptr) return NotFound("unknown agent '" + id + "'");
  return agents_.BusySlotMs(agent->handle, PeekNow());
}

JobInfo SchedulerImpl::MakeJobInfo(const JobRecord& job) const {
  JobInfo info;
  info.spec = job.spec;
  info.state = job.state;
  info.attempt_count = job.attempt_count;
  info.uncounted_attempts = job.uncounted_attempts;
  if (const Lease* lease = leases_.Find(job.spec.id)) {
    info.lease = LeaseRef{lease->job, lease->attempt};
    info.lease_deadline_ms = lease->deadline_ms;
  }
  info.attempts = job.attempts;
  for (int handle : job.excluded) info.excluded_agents.push_back(agents_.Get(handle).id);
  std::sort(info.excluded_agents.begin(), info.excluded_agents.end());
  info.unmet_parents = job.unmet_parents;
  info.reason = job.reason;
  info.linked_to = job.linked_to;
  return info;
}

AgentInfo SchedulerImpl::MakeAgentInfo(const AgentRecord& agent) const {
  AgentInfo info;
  info.id = agent.id;
  info.state = agent.state;
  info.device = agent.device;
  info.device_memory_bytes = agent.memory;
  info.slots = static_cast<int>(agent.slot_jobs.size());
  info.busy_slots = agent.busy_slots();
  info.reserved_slots = agent.reserved_slots;
  info.busy_slot_ms = agents_.BusySlotMs(agent.handle, PeekNow());
  info.last_heard_ms = agent.last_heard_ms;
  for (JobId job : agent.Leases()) {
    if (const Lease* lease = leases_.Find(job)) info.leases.push_back({job, lease->attempt});
  }
  info.cached_models.assign(agent.cached.begin(), agent.cached.end());
  std::sort(info.cached_models.begin(), info.cached_models.end());
  return info;
}

StatusOr<JobInfo> SchedulerImpl::GetJob(JobId id) const {
  const JobRecord* job = jobs_.Find(id);
  if (job == nullptr) return NotFound("unknown job " + std::to_string(id));
  return MakeJobInfo(*job);
}

const JobSpec* SchedulerImpl::FindJobSpec(JobId id) const {
  const JobRecord* job = jobs_.Find(id);
  return job == nullptr ? nullptr : &job->spec;
}

std::optional<JobState> SchedulerImpl::FindJobState(JobId id) const {
  const JobRecord* job = jobs_.Find(id);
  if (job == nullptr) return std::nullopt;
  return job->state;
}

bool SchedulerImpl::HoldsLease(const AgentId& id, LeaseRef ref) const {
  const Lease* lease = leases_.Find(ref.job);
  if (lease == nullptr || lease->attempt != ref.attempt) return false;
  const AgentRecord* agent = agents_.Find(id);
  return agent != nullptr && lease->HeldBy(agent->handle);
}

StatusOr<AgentInfo> SchedulerImpl::GetAgent(const AgentId& id) const {
  const AgentRecord* agent = agents_.Find(id);
  if (agent == nullptr) return NotFound("unknown agent '" + id + "'");
  return MakeAgentInfo(*agent);
}

std::vector<AgentInfo> SchedulerImpl::Agents() const {
  std::vector<AgentInfo> out;
  for (int handle = 0; handle < agents_.size(); ++handle) {
    out.push_back(MakeAgentInfo(agents_.Get(handle)));
  }
  std::sort(out.begin(), out.end(),
            [](const AgentInfo& a, const AgentInfo& b) { return a.id < b.id; });
  return out;
}

}  // namespace farm::scheduler
