// The Scheduler facade: forwards to SchedulerImpl.
#include "farm/scheduler/scheduler.h"

#include <utility>

#include "scheduler_impl.h"

namespace farm::scheduler {

StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(const Clock& clock,
                                                       SchedulerOptions options) {
  FARM_RETURN_IF_ERROR(ValidateOptions(options));
  return std::unique_ptr<Scheduler>(
      new Scheduler(std::make_unique<SchedulerImpl>(clock, std::move(options))));
}

Scheduler::Scheduler(std::unique_ptr<SchedulerImpl> impl) : impl_(std::move(impl)) {}
Scheduler::~Scheduler() = default;

Status Scheduler::SubmitJobs(std::vector<JobSpec> jobs) {
  return impl_->SubmitJobs(std::move(jobs));
}

Status Scheduler::SubmitJob(JobSpec job) {
  std::vector<JobSpec> jobs;
  jobs.push_back(std::move(job));
  return impl_->SubmitJobs(std::move(jobs));
}

Status Scheduler::CancelJob(JobId job, std::string_view reason) {
  return impl_->CancelJob(job, reason);
}

Status Scheduler::CancelSweep(SweepId sweep, std::string_view reason) {
  return impl_->CancelSweep(sweep, reason);
}

Status Scheduler::SetSweepPriority(SweepId sweep, int priority) {
  return impl_->SetSweepPriority(sweep, priority);
}

std::vector<JobId> Scheduler::TakeCoordinatorJobs() { return impl_->TakeCoordinatorJobs(); }

Status Scheduler::CompleteCoordinatorJob(JobId job, bool succeeded, std::string_view reason) {
  return impl_->CompleteCoordinatorJob(job, succeeded, reason);
}

Status Scheduler::RegisterAgent(const AgentSpec& spec) { return impl_->RegisterAgent(spec); }
Status Scheduler::RegisterAgent(const AgentSpec& spec, std::span<const LeaseRef> held) {
  return impl_->RegisterAgent(spec, &held);
}

Status Scheduler::Heartbeat(const AgentId& agent) { return impl_->Heartbeat(agent, nullptr); }

Status Scheduler::Heartbeat(const AgentId& agent, std::span<const LeaseRef> held,
                            std::span<const LeaseRef> in_flight) {
  return impl_->HeartbeatHolding(agent, held, in_flight);
}
Status Scheduler::Heartbeat(const AgentId& agent, std::span<const LeaseRef> active) {
  return impl_->Heartbeat(agent, &active);
}

StatusOr<bool> Scheduler::ReportProgress(const AgentId& agent, LeaseRef lease) {
  return impl_->ReportProgress(agent, lease);
}

StatusOr<ResultAck> Scheduler::ReportResult(const AgentId& agent, const ResultReport& result) {
  return impl_->ReportResult(agent, result);
}

Status Scheduler::UpdateCachedModels(const AgentId& agent, std::vector<std::string> models) {
  return impl_->UpdateCachedModels(agent, std::move(models));
}

Status Scheduler::SetDraining(const AgentId& agent, bool draining) {
  return impl_->SetDraining(agent, draining);
}

Status Scheduler::DeregisterAgent(const AgentId& agent, std::string_view reason) {
  return impl_->DeregisterAgent(agent, reason);
}

void Scheduler::Tick() { impl_->Tick(); }
void Scheduler::Schedule() { impl_->Schedule(); }
Status Scheduler::Restore(RestoreInput input) { return impl_->Restore(std::move(input)); }
std::vector<Decision> Scheduler::TakeDecisions() { return impl_->TakeDecisions(); }

std::size_t Scheduler::QueueDepth() const { return impl_->QueueDepth(); }
std::size_t Scheduler::ActiveLeases() const { return impl_->ActiveLeases(); }
StateCounts Scheduler::CountsByState() const { return impl_->CountsByState(); }
StatusOr<TimeMs> Scheduler::AgentBusyMs(const AgentId& agent) const {
  return impl_->AgentBusyMs(agent);
}
StatusOr<JobInfo> Scheduler::GetJob(JobId job) const { return impl_->GetJob(job); }
const JobSpec* Scheduler::FindJobSpec(JobId job) const { return impl_->FindJobSpec(job); }
std::optional<JobState> Scheduler::FindJobState(JobId job) const {
  return impl_->FindJobState(job);
}
bool Scheduler::HoldsLease(const AgentId& agent, LeaseRef lease) const {
  return impl_->HoldsLease(agent, lease);
}
std::vector<UnrunnableJob> Scheduler::UnrunnableJobs(std::optional<SweepId> sweep) const {
  return impl_->UnrunnableJobs(sweep);
}
StatusOr<AgentInfo> Scheduler::GetAgent(const AgentId& agent) const {
  return impl_->GetAgent(agent);
}
std::vector<AgentInfo> Scheduler::Agents() const { return impl_->Agents(); }
const SchedulerOptions& Scheduler::options() const { return impl_->options(); }

}  // namespace farm::scheduler
