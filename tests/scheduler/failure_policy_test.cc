// Failure policy: K distinct agents, exclusion of agents that failed a job, attempt cap.
#include <gtest/gtest.h>

#include <set>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

class FailurePolicyTest : public testing::SchedulerTest {
 protected:
  explicit FailurePolicyTest(SchedulerOptions options = {}) : SchedulerTest(options) {}
};

TEST_F(FailurePolicyTest, FailsAfterThreeDistinctAgentsWithEveryError) {
  for (const char* id : {"a", "b", "c", "d"}) Register(Agent(id));
  Submit({Job(1), Job(2, /*priority=*/-1)});
  std::set<std::string> failed_on;
  for (int i = 0; i < 3; ++i) {
    testing::Out out = Schedule();
    const Dispatch* d = out.DispatchOf(1);
    ASSERT_NE(d, nullptr) << "attempt " << i + 1;
    EXPECT_EQ(d->attempt, i + 1);
    const std::string agent = d->placements[0].agent;
    EXPECT_TRUE(failed_on.insert(agent).second) << agent << " was offered the job again";
    Report(agent, d->lease(), ResultKind::kFailed, "error " + std::to_string(i + 1));
    if (i < 2) {
      EXPECT_EQ(Take().requeues.size(), 1u);
    }
  }
  testing::Out out = Take();
  const JobFinished* f = out.FinishedOf(1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->state, JobState::kFailed);
  for (const char* error : {"error 1", "error 2", "error 3"}) {
    EXPECT_NE(f->reason.find(error), std::string::npos) << f->reason;
  }
  JobInfo info = InfoOf(1);
  ASSERT_EQ(info.attempts.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(info.attempts[i].outcome, AttemptOutcome::kFailed);
    EXPECT_EQ(info.attempts[i].error, "error " + std::to_string(i + 1));
  }
  EXPECT_EQ(info.excluded_agents.size(), 3u);
}

TEST_F(FailurePolicyTest, ExcludedJobWaitsForAnotherAgent) {
  Register(Agent("a"));
  Register(Agent("b"));
  Submit(Job(1));
  for (int i = 0; i < 2; ++i) {
    testing::Out out = Schedule();
    ASSERT_EQ(out.dispatches.size(), 1u);
    Report(out.dispatches[0].placements[0].agent, out.dispatches[0].lease(), ResultKind::kFailed,
           "bad driver");
  }
  // Both agents are free, but both failed the job: it waits instead of failing.
  EXPECT_TRUE(Schedule().dispatches.empty());
  EXPECT_EQ(StateOf(1), JobState::kQueued);
  Submit(Job(2));
  EXPECT_EQ(Schedule().DispatchedJobs(), std::vector<JobId>{2});  // others still run there
  Register(Agent("c"));
  testing::Out out = Schedule();
  ASSERT_EQ(out.DispatchedJobs(), std::vector<JobId>{1});
  EXPECT_EQ(out.dispatches[0].placements[0].agent, "c");
  EXPECT_EQ(Succeed(out.dispatches[0]).verdict, ResultVerdict::kAccepted);
}

TEST_F(FailurePolicyTest, ReleasedJobIsRequeuedWithoutBlame) {
  Register(Agent("a"));
  Submit(Job(1));
  for (int attempt = 1; attempt <= 4; ++attempt) {
    testing::Out out = Schedule();
    ASSERT_EQ(out.dispatches.size(), 1u);
    EXPECT_EQ(out.dispatches[0].attempt, attempt);
    EXPECT_EQ(out.dispatches[0].placements[0].agent, "a");
    Report("a", out.dispatches[0].lease(), ResultKind::kReleased, "");
  }
  EXPECT_TRUE(InfoOf(1).excluded_agents.empty());
  EXPECT_EQ(StateOf(1), JobState::kQueued);
}

SchedulerOptions TwoAttempts() {
  SchedulerOptions options;
  options.max_attempts = 2;
  return options;
}

class AttemptCapTest : public FailurePolicyTest {
 protected:
  AttemptCapTest() : FailurePolicyTest(TwoAttempts()) {}
};

TEST_F(AttemptCapTest, JobThatKeepsLosingItsAgentIsFailedAtTheCap) {
  Submit(Job(1));
  testing::Out out;
  for (int i = 0; i < 2; ++i) {
    Register(Agent("a"));
    ASSERT_EQ(Schedule().dispatches.size(), 1u);
    clock_.Advance(3000);  // the agent crashed with the job
    out = Tick();
    EXPECT_EQ(out.requeues.size(), i == 0 ? 1u : 0u);
  }
  const JobFinished* f = out.FinishedOf(1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->state, JobState::kFailed);
  EXPECT_NE(f->reason.find("gave up after 2 attempts"), std::string::npos) << f->reason;
  EXPECT_NE(f->reason.find("agent_lost"), std::string::npos) << f->reason;
}

}  // namespace
}  // namespace farm::scheduler
