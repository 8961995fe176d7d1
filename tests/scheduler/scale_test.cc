// Scale: 500 agents and 50,000 queued jobs of 50 requirement classes, dispatched and
// completed to the end: every job succeeds exactly once. The cost per decision is
// measured by tools/bench/scheduler_bench (never by a timed unit test); a quadratic
// regression shows here as a ctest timeout.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::kGiB;

TEST(SchedulerScaleTest, FiftyThousandJobsOnFiveHundredAgents) {
  FakeClock clock;
  auto created = Scheduler::Create(clock, {});
  ASSERT_TRUE(created.ok());
  Scheduler& s = **created;
  constexpr int kAgents = 500;
  constexpr JobId kJobs = 50'000;
  for (int i = 0; i < kAgents; ++i) {
    AgentSpec agent;
    agent.id = "agent-" + std::to_string(i);
    agent.device = i % 2 == 0 ? DeviceKind::kCuda : DeviceKind::kCpu;
    agent.device_memory_bytes = (i % 4 < 2 ? 80 : 24) * kGiB;
    agent.slots = 4;
    agent.cached_models = {"ckpt", "lora-" + std::to_string(i % 50)};
    ASSERT_TRUE(s.RegisterAgent(agent).ok());
  }
  std::vector<JobSpec> jobs;
  for (JobId id = 1; id <= kJobs; ++id) {
    JobSpec job;
    job.id = id;
    job.sweep_id = 1 + id % 7;
    job.kind = JobKind::kRender;
    job.priority = static_cast<int>(id % 3);
    job.param_hash = "h" + std::to_string(id);
    job.device = id % 5 == 0 ? DeviceKind::kCpu : DeviceKind::kCuda;
    job.min_device_memory_bytes = (id % 10 == 0 ? 40 : 8) * kGiB;
    job.required_models = {"ckpt", "lora-" + std::to_string(id % 50)};
    jobs.push_back(std::move(job));
  }
  ASSERT_TRUE(s.SubmitJobs(std::move(jobs)).ok());
  std::size_t done = 0;
  std::size_t rounds = 0;
  while (done < kJobs && rounds < 10'000) {
    ++rounds;
    clock.Advance(100);
    s.Tick();
    for (const Decision& d : s.TakeDecisions()) {
      const auto* dispatch = std::get_if<Dispatch>(&d);
      if (dispatch == nullptr) continue;
      auto ack = s.ReportResult(dispatch->placements[0].agent,
                                ResultReport{dispatch->lease(), ResultKind::kSucceeded, ""});
      ASSERT_TRUE(ack.ok() && ack->verdict == ResultVerdict::kAccepted);
      ++done;
    }
    for (int i = 0; i < kAgents && rounds % 10 == 0; ++i) {
      ASSERT_TRUE(s.Heartbeat("agent-" + std::to_string(i)).ok());
    }
  }
  EXPECT_EQ(done, static_cast<std::size_t>(kJobs));
  EXPECT_EQ(s.CountsByState()[JobState::kSucceeded], static_cast<std::size_t>(kJobs));
}

}  // namespace
}  // namespace farm::scheduler
