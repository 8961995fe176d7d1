// Jobs of SchedulerOptions::coordinator_kinds: never offered to agents; handed to the
// coordinator once runnable; CompleteCoordinatorJob ends them like a result would.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

SchedulerOptions ScoresInCoordinator() {
  SchedulerOptions options;
  options.coordinator_kinds = {JobKind::kScore};
  return options;
}

JobSpec Score(JobId id, std::vector<JobId> deps) {
  JobSpec spec = Job(id);
  spec.kind = JobKind::kScore;
  spec.deps = std::move(deps);
  return spec;
}

class CoordinatorJobsTest : public testing::SchedulerTest {
 protected:
  CoordinatorJobsTest() : SchedulerTest(ScoresInCoordinator()) {}
};

TEST_F(CoordinatorJobsTest, RunnableAfterParentAndNeverDispatched) {
  AgentSpec agent = Agent("a", 2);
  agent.job_kinds = {JobKind::kSynthetic, JobKind::kScore};  // even an agent that says it can
  Register(agent);
  Submit({Job(1), Score(2, {1})});
  EXPECT_TRUE(s().TakeCoordinatorJobs().empty());  // parent not done
  testing::Out out = Schedule();
  ASSERT_EQ(out.DispatchedJobs(), std::vector<JobId>{1});
  EXPECT_EQ(Succeed(out.dispatches[0]).verdict, ResultVerdict::kAccepted);
  EXPECT_TRUE(Schedule().dispatches.empty());
  EXPECT_EQ(s().TakeCoordinatorJobs(), std::vector<JobId>{2});
  EXPECT_TRUE(s().TakeCoordinatorJobs().empty());  // handed out once
  EXPECT_EQ(StateOf(2), JobState::kQueued);

  ASSERT_TRUE(s().CompleteCoordinatorJob(2, true, "").ok());
  testing::Out done = Take();
  ASSERT_NE(done.FinishedOf(2), nullptr);
  EXPECT_EQ(done.FinishedOf(2)->state, JobState::kSucceeded);
  EXPECT_TRUE(done.ended.empty());  // no lease, no attempt
  EXPECT_EQ(StateOf(2), JobState::kSucceeded);
  EXPECT_EQ(s().CompleteCoordinatorJob(2, true, "").code(), StatusCode::kFailedPrecondition);
}

TEST_F(CoordinatorJobsTest, FailureKeepsTheReasonAndSkipsChildren) {
  Register(Agent("a"));
  JobSpec child = Job(2);
  child.deps = {1};
  Submit({Score(1, {}), child});
  ASSERT_EQ(s().TakeCoordinatorJobs(), std::vector<JobId>{1});
  ASSERT_TRUE(s().CompleteCoordinatorJob(1, false, "render has no face data").ok());
  testing::Out out = Take();
  ASSERT_NE(out.FinishedOf(1), nullptr);
  EXPECT_EQ(out.FinishedOf(1)->state, JobState::kFailed);
  EXPECT_EQ(out.FinishedOf(1)->reason, "render has no face data");
  EXPECT_EQ(StateOf(2), JobState::kSkipped);
}

TEST_F(CoordinatorJobsTest, OnlyCoordinatorKindsAndKnownJobs) {
  Submit(Job(1));
  EXPECT_EQ(s().CompleteCoordinatorJob(1, true, "").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s().CompleteCoordinatorJob(99, true, "").code(), StatusCode::kNotFound);
}

TEST(CoordinatorJobsDefaultTest, WithoutTheOptionScoreJobsGoToAgents) {
  FakeClock clock;
  auto scheduler = Scheduler::Create(clock);
  ASSERT_TRUE(scheduler.ok());
  AgentSpec agent = Agent("a");
  agent.job_kinds = {JobKind::kScore};
  ASSERT_TRUE((*scheduler)->RegisterAgent(agent).ok());
  ASSERT_TRUE((*scheduler)->SubmitJob(Score(1, {})).ok());
  (*scheduler)->Schedule();
  EXPECT_EQ(testing::Split((*scheduler)->TakeDecisions()).DispatchedJobs(), std::vector<JobId>{1});
  EXPECT_TRUE((*scheduler)->TakeCoordinatorJobs().empty());
}

}  // namespace
}  // namespace farm::scheduler
