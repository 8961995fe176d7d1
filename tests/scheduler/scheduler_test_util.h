// Shared fixture for the scheduler's unit tests: a FakeClock, a Scheduler, builders for
// specs, and the decisions split by type.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "farm/scheduler/scheduler.h"

namespace farm::scheduler::testing {

inline constexpr std::uint64_t kGiB = 1ull << 30;

// Decisions of one TakeDecisions() call, split by type (order kept within a type).
struct Out {
  std::vector<Decision> all;
  std::vector<Dispatch> dispatches;
  std::vector<CancelRequest> cancels;
  std::vector<AttemptEnded> ended;
  std::vector<Requeue> requeues;
  std::vector<JobFinished> finished;

  const Dispatch* DispatchOf(JobId job) const;  // nullptr when not dispatched
  const JobFinished* FinishedOf(JobId job) const;
  std::vector<JobId> DispatchedJobs() const;  // in dispatch order
};

Out Split(std::vector<Decision> decisions);

JobSpec Job(JobId id, int priority = 0);
JobSpec Render(JobId id, const std::string& param_hash, bool force = false);
AgentSpec Agent(const std::string& id, int slots = 1, DeviceKind device = DeviceKind::kCpu,
                std::uint64_t memory = 8 * kGiB);

class SchedulerTest : public ::testing::Test {
 protected:
  explicit SchedulerTest(SchedulerOptions options = {});

  Scheduler& s() { return *scheduler_; }
  void Register(const AgentSpec& spec);
  void Submit(const JobSpec& spec);
  void Submit(std::vector<JobSpec> specs);
  // Schedule() (or Tick()) and take what was decided.
  Out Schedule();
  Out Tick();
  Out Take() { return Split(s().TakeDecisions()); }
  // Advances the clock by `ms`, heartbeating every agent in `alive` each second.
  void AdvanceWithHeartbeats(TimeMs ms, const std::vector<std::string>& alive);
  ResultAck Report(const std::string& agent, LeaseRef lease,
                   ResultKind kind = ResultKind::kSucceeded, const std::string& error = "");
  ResultAck Succeed(const Dispatch& d) { return Report(d.placements.at(0).agent, d.lease()); }
  JobState StateOf(JobId job);
  JobInfo InfoOf(JobId job);

  FakeClock clock_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace farm::scheduler::testing
