// Job lifecycle: submission, dependency release, dedup links, cancel and skip.
#include <algorithm>
#include <string>
#include <unordered_set>
#include <utility>

#include "scheduler_impl.h"

namespace farm::scheduler {
namespace {

QueueKey KeyOf(const JobRecord& job) { return QueueKey{job.spec.priority, job.seq, job.spec.id}; }

bool Deduplicated(const JobRecord& job) {
  return job.spec.kind == JobKind::kRender && !job.spec.force;
}

}  // namespace

SchedulerImpl::SchedulerImpl(const Clock& clock, SchedulerOptions options)
    : clock_(clock), options_(std::move(options)), last_now_(clock.NowMs()) {}

TimeMs SchedulerImpl::Now() {
  last_now_ = std::max(last_now_, clock_.NowMs());
  return last_now_;
}

TimeMs SchedulerImpl::PeekNow() const { return std::max(last_now_, clock_.NowMs()); }

// Out of line on purpose: GCC 12 reports a false -Wmaybe-uninitialized (a known
// std::variant false positive) when vector<variant>::push_back is inlined into callers
// that build the variant in place.
[[gnu::noinline]] void SchedulerImpl::Emit(Decision decision) {
  outbox_.push_back(std::move(decision));
}

std::vector<Decision> SchedulerImpl::TakeDecisions() {
  std::vector<Decision> out;
  out.swap(outbox_);
  return out;
}

Status SchedulerImpl::ValidateSubmission(const std::vector<JobSpec>& jobs) const {
  std::unordered_set<JobId> batch;
  for (const JobSpec& spec : jobs) {
    FARM_RETURN_IF_ERROR(ValidateJobSpec(spec));
    if (jobs_.Contains(spec.id) || batch.count(spec.id) != 0) {
      return AlreadyExists("job " + std::to_string(spec.id) + " was already submitted");
    }
    for (JobId dep : spec.deps) {
      if (!jobs_.Contains(dep) && batch.count(dep) == 0) {
        return InvalidArgument("job " + std::to_string(spec.id) + " depends on unknown job " +
                               std::to_string(dep) + " (submit parents first)");
      }
    }
    batch.insert(spec.id);
  }
  return Status::Ok();
}

Status SchedulerImpl::SubmitJobs(std::vector<JobSpec> jobs) {
  FARM_RETURN_IF_ERROR(ValidateSubmission(jobs));
  for (JobSpec& spec : jobs) {
    JobRecord& job = jobs_.Insert(std::move(spec));
    jobs_.LinkToParents(job);
    const JobRecord* dead_parent = nullptr;
    for (JobId dep : job.spec.deps) {
      const JobRecord& parent = *jobs_.Find(dep);
      if (parent.state == JobState::kSucceeded) continue;
      if (IsTerminal(parent.state)) {
        dead_parent = &parent;
        break;
      }
      ++job.unmet_parents;
    }
    if (dead_parent != nullptr) {
      Finish(job, JobState::kSkipped,
             "dependency job " + std::to_string(dead_parent->spec.id) + " " +
                 Name(dead_parent->state));
    } else if (job.unmet_parents == 0) {
      MakeRunnable(job);
    }
  }
  return Status::Ok();
}

void SchedulerImpl::MakeRunnable(JobRecord& job) {
  if (job.unmet_parents > 0) {
    jobs_.SetState(job, JobState::kBlocked);
    return;
  }
  jobs_.SetState(job, JobState::kQueued);
  if (LinkToExistingResult(job)) {
    PropagateSuccess({&job});
  } else {
    Enqueue(job);
  }
}

bool SchedulerImpl::IsCoordinatorKind(JobKind kind) const {
  return std::find(options_.coordinator_kinds.begin(), options_.coordinator_kinds.end(), kind) !=
         options_.coordinator_kinds.end();
}

void SchedulerImpl::Enqueue(JobRecord& job) {
  if (IsCoordinatorKind(job.spec.kind)) {
    coordinator_runnable_.push_back(job.spec.id);
    return;
  }
  job.class_id = ready_.ClassFor(job.spec, job.excluded);
  ready_.Push(job.class_id, KeyOf(job));
  job.in_ready = true;
  dirty_ = true;
}

void SchedulerImpl::RemoveFromReady(JobRecord& job) {
  if (!job.in_ready) return;
  ready_.Erase(job.class_id, KeyOf(job));
  job.in_ready = false;
  if (reservation_.active() && reservation_.owner().job == job.spec.id) ReleaseReservation();
}

void SchedulerImpl::ReleaseReservation() {
  reservation_.Release(agents_);
  dirty_ = true;
}

bool SchedulerImpl::LinkToExistingResult(JobRecord& job) {
  if (!Deduplicated(job)) return false;
  const DedupIndex::Group* group = dedup_.Find(job.spec.param_hash);
  if (group == nullptr || group->result == 0 || group->result == job.spec.id) return false;
  const JobId producer = group->result;
  MarkTerminal(job, JobState::kSucceeded,
               "deduplicated: param_hash already rendered by job " + std::to_string(producer),
               producer);
  return true;
}

void SchedulerImpl::MarkTerminal(JobRecord& job, JobState state, std::string reason,
                                 std::optional<JobId> linked_to) {
  RemoveFromReady(job);
  job.parked = false;
  jobs_.SetState(job, state);
  job.reason = std::move(reason);
  job.linked_to = linked_to;
  Emit(JobFinished{job.spec.id, state, job.reason, linked_to});
}

void SchedulerImpl::Finish(JobRecord& job, JobState state, std::string reason) {
  MarkTerminal(job, state, std::move(reason));
  if (state == JobState::kSucceeded) {
    PropagateSuccess({&job});
  } else {
    SkipDescendants(job);
  }
}

void SchedulerImpl::PropagateSuccess(std::vector<JobRecord*> producers) {
  // A worklist, not recursion: dedup links can chain through long dependency paths.
  std::vector<JobRecord*> work = std::move(producers);
  while (!work.empty()) {
    JobRecord* job = work.back();
    work.pop_back();
    if (job->spec.kind == JobKind::kRender) {
      DedupIndex::Group& group = dedup_.Get(job->spec.param_hash);
      if (group.result == 0) group.result = job->linked_to.value_or(job->spec.id);
      if (group.in_flight == job->spec.id) group.in_flight = 0;
      std::vector<JobId> parked;
      parked.swap(group.parked);
      for (JobId id : parked) {
        JobRecord* dup = jobs_.Find(id);
        if (dup == nullptr || !dup->parked || dup->state != JobState::kQueued) continue;
        MarkTerminal(*dup, JobState::kSucceeded,
                     "deduplicated: param_hash rendered by job " + std::to_string(group.result),
                     group.result);
        work.push_back(dup);
      }
    }
    if (job->state != JobState::kSucceeded) continue;  // a cancelled job's late result
    for (JobId child_id : job->children) {
      JobRecord& child = *jobs_.Find(child_id);
      if (child.state != JobState::kBlocked || --child.unmet_parents > 0) continue;
      jobs_.SetState(child, JobState::kQueued);
      if (LinkToExistingResult(child)) {
        work.push_back(&child);
      } else {
        Enqueue(child);
      }
    }
  }
}

void SchedulerImpl::SkipDescendants(JobRecord& root) {
  std::string reason = "dependency job " + std::to_string(root.spec.id) + " " + Name(root.state);
  if (!root.reason.empty()) reason += ": " + root.reason;
  std::vector<JobId> work(root.children.begin(), root.children.end());
  while (!work.empty()) {
    JobRecord& job = *jobs_.Find(work.back());
    work.pop_back();
    if (IsTerminal(job.state)) continue;
    if (Lease* lease = leases_.Find(job.spec.id); lease != nullptr && !lease->cancelling) {
      lease->cancelling = true;  // only after an inconsistent restore: children never run early
      SendCancels(*lease, -1, "skipped: " + reason);
    }
    MarkTerminal(job, JobState::kSkipped, reason);
    work.insert(work.end(), job.children.begin(), job.children.end());
  }
}

void SchedulerImpl::CancelOne(JobRecord& job, const std::string& reason) {
  if (IsTerminal(job.state)) return;
  if (Lease* lease = leases_.Find(job.spec.id); lease != nullptr && !lease->cancelling) {
    lease->cancelling = true;
    SendCancels(*lease, -1, reason);
  }
  MarkTerminal(job, JobState::kCancelled, reason);
  SkipDescendants(job);
}

Status SchedulerImpl::CancelJob(JobId id, std::string_view reason) {
  JobRecord* job = jobs_.Find(id);
  if (job == nullptr) return NotFound("cannot cancel unknown job " + std::to_string(id));
  CancelOne(*job, reason.empty() ? std::string("cancelled") : std::string(reason));
  return Status::Ok();
}

Status SchedulerImpl::CancelSweep(SweepId sweep, std::string_view reason) {
  const std::vector<JobId>* ids = jobs_.SweepJobs(sweep);
  if (ids == nullptr) return NotFound("cannot cancel unknown sweep " + std::to_string(sweep));
  const std::string why =
      reason.empty() ? "sweep " + std::to_string(sweep) + " cancelled" : std::string(reason);
  for (JobId id : *ids) CancelOne(*jobs_.Find(id), why);
  return Status::Ok();
}

Status SchedulerImpl::SetSweepPriority(SweepId sweep, int priority) {
  const std::vector<JobId>* ids = jobs_.SweepJobs(sweep);
  if (ids == nullptr) return NotFound("unknown sweep " + std::to_string(sweep));
  for (JobId id : *ids) {
    JobRecord& job = *jobs_.Find(id);
    if (IsTerminal(job.state) || job.spec.priority == priority) continue;
    // The queue key holds the priority: take the job out under its old key, put it back.
    const bool queued = job.in_ready;
    if (queued) ready_.Erase(job.class_id, KeyOf(job));
    job.spec.priority = priority;
    if (queued) ready_.Push(job.class_id, KeyOf(job));
  }
  dirty_ = true;
  return Status::Ok();
}

std::vector<JobId> SchedulerImpl::TakeCoordinatorJobs() {
  std::vector<JobId> out;
  out.swap(coordinator_runnable_);
  return out;
}

Status SchedulerImpl::CompleteCoordinatorJob(JobId id, bool succeeded, std::string_view reason) {
  JobRecord* job = jobs_.Find(id);
  if (job == nullptr) return NotFound("cannot complete unknown job " + std::to_string(id));
  if (!IsCoordinatorKind(job->spec.kind)) {
    return FailedPrecondition("job " + std::to_string(id) + " is a " + Name(job->spec.kind) +
                              " job, which agents run, not the coordinator");
  }
  if (job->state != JobState::kQueued) {
    return FailedPrecondition("cannot complete job " + std::to_string(id) + ": it is " +
                              Name(job->state));
  }
  Finish(*job, succeeded ? JobState::kSucceeded : JobState::kFailed, std::string(reason));
  return Status::Ok();
}

}  // namespace farm::scheduler
