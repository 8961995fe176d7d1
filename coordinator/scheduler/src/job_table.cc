#include "job_table.h"

#include <algorithm>
#include <utility>

namespace farm::scheduler {
namespace {

template <typename T>
void SortUnique(std::vector<T>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

template <typename Records>
auto* FindIn(Records& attempts, int attempt) {
  auto it = std::lower_bound(attempts.begin(), attempts.end(), attempt,
                             [](const AttemptRecord& r, int a) { return r.attempt < a; });
  return it != attempts.end() && it->attempt == attempt ? &*it : nullptr;
}

}  // namespace

AttemptRecord* JobRecord::FindAttempt(int attempt) { return FindIn(attempts, attempt); }

const AttemptRecord* JobRecord::FindAttempt(int attempt) const { return FindIn(attempts, attempt); }

JobRecord* JobTable::Find(JobId id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

const JobRecord* JobTable::Find(JobId id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

JobRecord& JobTable::Insert(JobSpec spec) {
  SortUnique(spec.required_models);
  SortUnique(spec.deps);
  const JobId id = spec.id;
  const SweepId sweep = spec.sweep_id;
  JobRecord& job = jobs_[id];
  job.spec = std::move(spec);
  job.seq = next_seq_++;
  job.state = JobState::kBlocked;
  ++counts_.by_state[static_cast<std::size_t>(JobState::kBlocked)];
  by_sweep_[sweep].push_back(id);
  return job;
}

void JobTable::LinkToParents(const JobRecord& job) {
  for (JobId parent : job.spec.deps) {
    if (JobRecord* p = Find(parent)) p->children.push_back(job.spec.id);
  }
}

void JobTable::SetState(JobRecord& job, JobState state) {
  --counts_.by_state[static_cast<std::size_t>(job.state)];
  ++counts_.by_state[static_cast<std::size_t>(state)];
  job.state = state;
}

const std::vector<JobId>* JobTable::SweepJobs(SweepId sweep) const {
  auto it = by_sweep_.find(sweep);
  return it == by_sweep_.end() ? nullptr : &it->second;
}

}  // namespace farm::scheduler
