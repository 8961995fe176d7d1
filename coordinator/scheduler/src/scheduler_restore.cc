// Recovery: rebuild the state from the database after farmd restarted.
#include <algorithm>
#include <string>
#include <unordered_set>
#include <utility>

#include "scheduler_impl.h"

namespace farm::scheduler {

Status SchedulerImpl::ValidateRestore(const RestoreInput& input) const {
  if (jobs_.size() != 0 || agents_.size() != 0) {
    return FailedPrecondition("Restore needs a scheduler that has seen no job or agent yet");
  }
  std::unordered_set<JobId> ids;
  for (const RestoredJob& rj : input.jobs) {
    FARM_RETURN_IF_ERROR(ValidateJobSpec(rj.spec).WithContext("restore"));
    if (!ids.insert(rj.spec.id).second) {
      return InvalidArgument("restore: job " + std::to_string(rj.spec.id) + " appears twice");
    }
  }
  for (const RestoredJob& rj : input.jobs) {
    const std::string where = "restore: job " + std::to_string(rj.spec.id);
    if (rj.attempt_count < 0) return InvalidArgument(where + ": negative attempt_count");
    if (rj.uncounted_attempts < 0 || rj.uncounted_attempts > rj.attempt_count) {
      return InvalidArgument(where + ": uncounted_attempts outside 0..attempt_count");
    }
    if (rj.state == JobState::kLeased) {
      if (!rj.lease) return InvalidArgument(where + ": leased without a lease");
      if (rj.lease->attempt < 1) return InvalidArgument(where + ": lease attempt < 1");
      if (rj.lease->agents.empty()) return InvalidArgument(where + ": lease without agents");
      for (const AgentId& agent : rj.lease->agents) {
        if (agent.empty()) return InvalidArgument(where + ": lease names an empty agent id");
      }
    } else if (rj.lease && rj.state != JobState::kCancelled && rj.state != JobState::kSkipped) {
      return InvalidArgument(where + ": " + Name(rj.state) + " but has an open lease");
    }
    if (rj.lease && rj.state != JobState::kLeased) {
      if (rj.lease->attempt < 1 || rj.lease->agents.empty()) {
        return InvalidArgument(where + ": malformed lease");
      }
    }
    for (const AttemptRecord& rec : rj.attempts) {
      if (rec.attempt < 1) return InvalidArgument(where + ": attempt number < 1");
      if (!rec.outcome) {
        return InvalidArgument(where + ": attempt " + std::to_string(rec.attempt) +
                               " has no outcome (an open attempt is the lease)");
      }
    }
    if (IsTerminal(rj.state)) continue;
    for (JobId dep : rj.spec.deps) {
      if (ids.count(dep) == 0) {
        return InvalidArgument(where + " depends on job " + std::to_string(dep) +
                               ", which is not among the restored jobs");
      }
    }
  }
  for (const KnownResult& known : input.known_results) {
    if (known.param_hash.empty() || known.job <= 0) {
      return InvalidArgument("restore: a known result needs a param_hash and a job id > 0");
    }
  }
  return Status::Ok();
}

void SchedulerImpl::OpenRestoredLease(JobRecord& job, const RestoredLease& restored) {
  const TimeMs now = Now();
  // A cancelled or skipped job's lease is a cancel still draining: it stays terminal.
  const bool cancelling = IsTerminal(job.state);
  if (!cancelling) jobs_.SetState(job, JobState::kLeased);
  Lease lease{job.spec.id,           restored.attempt,     {},
              restored.leased_at_ms, restored.deadline_ms, cancelling};
  for (int rank = 0; rank < static_cast<int>(restored.agents.size()); ++rank) {
    const int handle = agents_.Intern(restored.agents[rank]);
    AgentRecord& agent = agents_.Get(handle);
    if (agent.state != AgentState::kAwaitingReconnect) {
      agents_.Deactivate(handle, AgentState::kAwaitingReconnect, now);
      awaiting_agents_.push_back(handle);
    }
    if (std::find(agent.restored_jobs.begin(), agent.restored_jobs.end(), job.spec.id) ==
        agent.restored_jobs.end()) {
      agent.restored_jobs.push_back(job.spec.id);
    }
    lease.seats.push_back(Seat{handle, -1, rank});
  }
  if (job.FindAttempt(restored.attempt) == nullptr) {
    AttemptRecord record;
    record.attempt = restored.attempt;
    record.agents = restored.agents;
    record.leased_at_ms = restored.leased_at_ms;
    record.deadline_ms = restored.deadline_ms;
    auto it =
        std::lower_bound(job.attempts.begin(), job.attempts.end(), restored.attempt,
                         [](const AttemptRecord& r, int attempt) { return r.attempt < attempt; });
    job.attempts.insert(it, std::move(record));
  }
  if (job.spec.kind == JobKind::kRender && !job.spec.force && !cancelling) {
    DedupIndex::Group& group = dedup_.Get(job.spec.param_hash);
    if (group.in_flight == 0) group.in_flight = job.spec.id;
  }
  leases_.Open(std::move(lease));
}

Status SchedulerImpl::Restore(RestoreInput input) {
  FARM_RETURN_IF_ERROR(ValidateRestore(input));
  const TimeMs now = Now();
  std::sort(input.jobs.begin(), input.jobs.end(),
            [](const RestoredJob& a, const RestoredJob& b) { return a.spec.id < b.spec.id; });
  // Submission order = ascending job id (the store's insertion order).
  std::vector<JobRecord*> records;
  for (RestoredJob& rj : input.jobs) records.push_back(&jobs_.Insert(rj.spec));
  for (JobRecord* job : records) jobs_.LinkToParents(*job);
  for (const KnownResult& known : input.known_results) {
    DedupIndex::Group& group = dedup_.Get(known.param_hash);
    if (group.result == 0) group.result = known.job;
  }

  // Pass 1: history, exclusions, terminal states.
  for (std::size_t i = 0; i < records.size(); ++i) {
    RestoredJob& rj = input.jobs[i];
    JobRecord& job = *records[i];
    std::sort(rj.attempts.begin(), rj.attempts.end(),
              [](const AttemptRecord& a, const AttemptRecord& b) { return a.attempt < b.attempt; });
    job.attempt_count = rj.attempt_count;
    job.uncounted_attempts = rj.uncounted_attempts;
    for (AttemptRecord& rec : rj.attempts) {
      if (!job.attempts.empty() && job.attempts.back().attempt == rec.attempt) continue;
      job.attempt_count = std::max(job.attempt_count, rec.attempt);
      AgentId blamed = rec.reported_by;
      if (blamed.empty() && !rec.agents.empty()) blamed = rec.agents.front();
      if (*rec.outcome == AttemptOutcome::kFailed && !blamed.empty()) {
        const int handle = agents_.Intern(blamed);
        auto it = std::lower_bound(job.excluded.begin(), job.excluded.end(), handle);
        if (it == job.excluded.end() || *it != handle) job.excluded.insert(it, handle);
      }
      job.attempts.push_back(std::move(rec));
    }
    if (rj.lease) job.attempt_count = std::max(job.attempt_count, rj.lease->attempt);
    if (!IsTerminal(rj.state)) continue;
    jobs_.SetState(job, rj.state);
    job.reason = rj.reason;
    job.linked_to = rj.linked_to;
    if (rj.state == JobState::kSucceeded && job.spec.kind == JobKind::kRender) {
      DedupIndex::Group& group = dedup_.Get(job.spec.param_hash);
      if (group.result == 0) group.result = rj.linked_to.value_or(job.spec.id);
    }
  }
  // Pass 2: open leases, their agents awaiting reconnection.
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (input.jobs[i].lease) OpenRestoredLease(*records[i], *input.jobs[i].lease);
  }
  // Pass 3: blocking is recomputed for every unfinished job before any is released, so
  // that a release (or dedup link) while walking decrements consistent counts.
  for (JobRecord* job : records) {
    if (IsTerminal(job->state)) continue;
    job->unmet_parents = 0;
    for (JobId dep : job->spec.deps) {
      if (jobs_.Find(dep)->state != JobState::kSucceeded) ++job->unmet_parents;
    }
  }
  for (JobRecord* job : records) {
    if (job->state != JobState::kBlocked) continue;  // terminal, leased, or released already
    const JobRecord* dead_parent = nullptr;
    for (JobId dep : job->spec.deps) {
      const JobRecord* parent = jobs_.Find(dep);
      if (IsTerminal(parent->state) && parent->state != JobState::kSucceeded) dead_parent = parent;
    }
    if (dead_parent != nullptr) {
      Finish(*job, JobState::kSkipped,
             "dependency job " + std::to_string(dead_parent->spec.id) + " " +
                 Name(dead_parent->state));
    } else if (job->unmet_parents == 0) {
      MakeRunnable(*job);
    }
  }
  // Pass 4: leases that cannot stand. A gang lease must name every rank (the store keeps
  // one holder per attempt; farmd passes all it knows).
  for (JobRecord* job : records) {
    const Lease* lease = leases_.Find(job->spec.id);
    if (lease == nullptr || static_cast<int>(lease->seats.size()) == job->spec.gang_size) continue;
    const int attempt = lease->attempt;
    const std::string reason = "restored lease names " + std::to_string(lease->seats.size()) +
                               " of " + std::to_string(job->spec.gang_size) + " gang ranks";
    const bool cancelling = lease->cancelling;
    EndLease(*job, AttemptOutcome::kExpired, reason, -1);
    if (!cancelling) RetryOrFail(*job, attempt, reason);
  }
  ExpireLeases(now);  // deadlines that passed while farmd was down
  restore_grace_until_ = now + options_.restore_grace_ms;
  dirty_ = true;
  return Status::Ok();
}

}  // namespace farm::scheduler
