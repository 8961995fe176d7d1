// Start-up recovery: rebuild the scheduler from the database (every non-terminal job,
// their parents, open attempts and known render results), so that `kill -9 farmd` and a
// restart finish the sweep with every stored result kept exactly once.
#include <spdlog/spdlog.h>

#include <map>

#include "conversions.h"
#include "coordinator_impl.h"
#include "gang_size.h"
#include "required_models.h"

namespace farm::farmd {
namespace {

scheduler::JobSpec SpecFromRow(const store::Job& job) {
  scheduler::JobSpec spec;
  spec.id = job.id;
  spec.sweep_id = job.sweep_id;
  spec.kind = ToScheduler(job.kind);
  spec.priority = job.priority;
  spec.param_hash = job.param_hash;
  spec.required_models = RequiredModels(job);
  spec.gang_size = GangSizeOf(job);
  return spec;
}

// A render job created while the same record had a succeeded job was asked to render
// again (NewJob::rerender; the store shares a rendered record otherwise): keep it forced.
StatusOr<bool> IsRerender(store::Store& store, const store::Job& job) {
  if (job.kind != store::JobKind::kRender) return false;
  FARM_ASSIGN_OR_RETURN(std::vector<store::Job> same, store.ListJobsByParamHash(job.param_hash));
  for (const store::Job& other : same) {
    if (other.id < job.id && other.kind == store::JobKind::kRender &&
        other.state == store::JobState::kSucceeded) {
      return true;
    }
  }
  return false;
}

}  // namespace

Status CoordinatorImpl::Restore() {
  // A sweep whose last job finished just before a crash may not have been marked done
  // yet (completion is checked in batches): check every unfinished sweep once.
  FARM_ASSIGN_OR_RETURN(std::vector<store::Sweep> sweeps, store_.ListSweeps());
  for (const store::Sweep& sweep : sweeps) {
    if (sweep.state == store::SweepState::kQueued || sweep.state == store::SweepState::kRunning) {
      sweeps_to_check_.insert(sweep.id);
    }
  }
  std::map<scheduler::JobId, store::Job> rows;  // ascending id: parents before children
  for (store::JobState state : {store::JobState::kQueued, store::JobState::kLeased}) {
    FARM_ASSIGN_OR_RETURN(std::vector<store::Job> jobs,
                          store_.ListJobs(JobsWhere(std::nullopt, state)));
    for (store::Job& job : jobs) rows.emplace(job.id, std::move(job));
  }
  FARM_ASSIGN_OR_RETURN(std::vector<store::Attempt> open, store_.ListOpenAttempts());
  std::map<scheduler::JobId, store::Attempt> open_by_job;
  for (store::Attempt& attempt : open) {
    // Also cancelled jobs whose cancel was still draining: their late result is kept.
    if (!rows.count(attempt.job_id)) {
      FARM_ASSIGN_OR_RETURN(store::Job job, store_.GetJob(attempt.job_id));
      rows.emplace(job.id, std::move(job));
    }
    open_by_job[attempt.job_id] = std::move(attempt);
  }
  const std::size_t live = rows.size();

  std::map<scheduler::JobId, scheduler::RestoredJob> restored;
  std::map<scheduler::JobId, store::Job> parents;
  for (const auto& [id, row] : rows) {
    scheduler::RestoredJob job;
    job.spec = SpecFromRow(row);
    FARM_ASSIGN_OR_RETURN(job.spec.force, IsRerender(store_, row));
    job.state = ToScheduler(row.state);
    job.attempt_count = row.attempt_count;
    job.reason = row.last_error;
    FARM_ASSIGN_OR_RETURN(job.spec.deps, store_.ListJobDeps(id));
    for (scheduler::JobId parent : job.spec.deps) {
      if (!rows.count(parent) && !parents.count(parent)) {
        FARM_ASSIGN_OR_RETURN(store::Job parent_row, store_.GetJob(parent));
        parents.emplace(parent, std::move(parent_row));
      }
    }
    FARM_ASSIGN_OR_RETURN(std::vector<store::Attempt> attempts, store_.ListAttempts(id));
    for (const store::Attempt& a : attempts) {
      if (!a.outcome) continue;
      if (!a.counted) ++job.uncounted_attempts;
      scheduler::AttemptRecord record;
      record.attempt = a.attempt;
      record.agents = {a.agent_id};
      record.leased_at_ms = a.leased_at_ms;
      record.deadline_ms = a.deadline_ms;
      record.outcome = ToScheduler(*a.outcome);
      record.error = a.error;
      if (*a.outcome == store::AttemptOutcome::kSucceeded ||
          *a.outcome == store::AttemptOutcome::kFailed) {
        record.reported_by = a.agent_id;
        record.result_accepted = true;
      }
      job.attempts.push_back(std::move(record));
    }
    auto lease = open_by_job.find(id);
    if (lease != open_by_job.end() && lease->second.attempt == row.attempt_count) {
      job.lease = scheduler::RestoredLease{lease->second.attempt,
                                           {lease->second.agent_id},
                                           lease->second.leased_at_ms,
                                           lease->second.deadline_ms};
    } else if (job.state == scheduler::JobState::kLeased) {
      job.state = scheduler::JobState::kQueued;  // leased without an open attempt: rerun
    }
    restored.emplace(id, std::move(job));
  }
  for (const auto& [id, row] : parents) {
    scheduler::RestoredJob job;
    job.spec = SpecFromRow(row);  // a finished parent's own parents do not matter
    job.state = ToScheduler(row.state);
    job.attempt_count = row.attempt_count;
    job.reason = row.last_error;
    if (!scheduler::IsTerminal(job.state)) job.state = scheduler::JobState::kQueued;
    restored.emplace(id, std::move(job));
  }

  scheduler::RestoreInput input;
  for (auto& [id, job] : restored) input.jobs.push_back(std::move(job));
  store::RenderFilter rendered_filter;
  rendered_filter.rendered = true;
  FARM_ASSIGN_OR_RETURN(std::vector<store::Render> rendered, store_.ListRenders(rendered_filter));
  for (const store::Render& render : rendered) {
    if (render.job_id) input.known_results.push_back({render.param_hash, *render.job_id});
  }
  FARM_RETURN_IF_ERROR(scheduler_->Restore(std::move(input)).WithContext("restore"));

  // Agents are offline until they register with this farmd.
  FARM_ASSIGN_OR_RETURN(std::vector<store::AgentRecord> agents, store_.ListAgents());
  for (const store::AgentRecord& agent : agents) {
    if (agent.drain_requested) drain_requested_.insert(agent.id);
    if (agent.state == store::AgentState::kOnline || agent.state == store::AgentState::kDraining) {
      (void)store_.SetAgentState(agent.id, store::AgentState::kOffline);
    }
  }
  if (live > 0) spdlog::info("restored {} unfinished jobs, {} open leases", live, open.size());
  return Status::Ok();
}

}  // namespace farm::farmd
