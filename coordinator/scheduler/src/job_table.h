// Every job the scheduler knows, with its dependency edges and per-state counts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "farm/scheduler/specs.h"
#include "farm/scheduler/types.h"

namespace farm::scheduler {

struct JobRecord {
  JobSpec spec;  // required_models sorted and unique, deps unique
  JobState state = JobState::kBlocked;
  std::uint64_t seq = 0;  // submission order
  int attempt_count = 0;  // attempt number of the newest lease
  int uncounted_attempts = 0;  // refused busy or offer lost: not counted against max_attempts
  int unmet_parents = 0;  // parents not (yet) succeeded
  std::vector<JobId> children;
  std::vector<AttemptRecord> attempts;  // ascending attempt
  std::vector<int> excluded;            // handles of agents that failed it, sorted
  int class_id = -1;                    // its ready-queue class while in_ready
  bool in_ready = false;                // in the ready queue
  bool parked = false;                  // waiting for an identical render in flight
  std::string reason;
  std::optional<JobId> linked_to;

  AttemptRecord* FindAttempt(int attempt);
  const AttemptRecord* FindAttempt(int attempt) const;
};

class JobTable {
 public:
  JobRecord* Find(JobId id);
  const JobRecord* Find(JobId id) const;
  bool Contains(JobId id) const { return jobs_.count(id) != 0; }
  std::size_t size() const { return jobs_.size(); }

  // Adds a job in state kBlocked with the next submission number. Precondition: the id
  // is new.
  JobRecord& Insert(JobSpec spec);
  // Records `job` as a child of each of its parents that is known (unknown ones are the
  // caller's to reject or ignore).
  void LinkToParents(const JobRecord& job);

  // The only way to change JobRecord::state, so that counts() stays exact.
  void SetState(JobRecord& job, JobState state);

  // Jobs of a sweep in submission order; nullptr when none was submitted.
  const std::vector<JobId>* SweepJobs(SweepId sweep) const;

  const StateCounts& counts() const { return counts_; }
  const std::unordered_map<JobId, JobRecord>& all() const { return jobs_; }

 private:
  std::unordered_map<JobId, JobRecord> jobs_;  // node-based: records never move
  std::unordered_map<SweepId, std::vector<JobId>> by_sweep_;
  StateCounts counts_;
  std::uint64_t next_seq_ = 1;
};

}  // namespace farm::scheduler
