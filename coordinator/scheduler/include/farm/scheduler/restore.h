// The scheduler's state as loaded from the database after farmd restarts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "farm/scheduler/specs.h"
#include "farm/scheduler/types.h"

namespace farm::scheduler {

// A lease that was open when farmd stopped (an attempts row with no outcome).
struct RestoredLease {
  int attempt = 0;              // >= 1
  std::vector<AgentId> agents;  // holders in rank order; gang_size entries for a gang
  TimeMs leased_at_ms = 0;
  TimeMs deadline_ms = 0;
};

struct RestoredJob {
  JobSpec spec;
  // kQueued and kBlocked are equivalent (blocking is recomputed from the parents);
  // kLeased requires `lease`. kCancelled and kSkipped may carry the lease of a cancel
  // that was still draining (its late result is then accepted with after_cancel).
  JobState state = JobState::kQueued;
  int attempt_count = 0;
  int uncounted_attempts = 0;  // of attempt_count: not held against max_attempts
  // Closed attempts, any order. Failed ones rebuild the job's excluded agents (the agent
  // in reported_by, or the first holder when it is empty).
  std::vector<AttemptRecord> attempts;
  std::optional<RestoredLease> lease;
  std::string reason;              // of a terminal state
  std::optional<JobId> linked_to;  // of a succeeded, deduplicated render
};

// A render result that exists in the store (renders.artifact_id set) even though the job
// that produced it is not among the restored jobs.
struct KnownResult {
  std::string param_hash;
  JobId job = 0;  // the producing job, reported as JobFinished::linked_to
};

struct RestoreInput {
  // Every non-terminal job, and every parent of one. Terminal jobs may be left out.
  std::vector<RestoredJob> jobs;
  std::vector<KnownResult> known_results;
};

}  // namespace farm::scheduler
