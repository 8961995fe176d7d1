// Dependencies: release when every parent succeeded, transitive skip otherwise.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

JobSpec Child(JobId id, std::vector<JobId> deps) {
  JobSpec spec = Job(id);
  spec.deps = std::move(deps);
  return spec;
}

SchedulerOptions FailFast() {
  SchedulerOptions options;
  options.max_distinct_agent_failures = 1;
  return options;
}

class DependencyTest : public testing::SchedulerTest {
 protected:
  DependencyTest() : SchedulerTest(FailFast()) {}
};

TEST_F(DependencyTest, PipelineRunsStageByStage) {
  Register(Agent("a", 4));
  // train -> validate -> render -> score
  Submit({Job(1), Child(2, {1}), Child(3, {2}), Child(4, {3})});
  EXPECT_EQ(StateOf(2), JobState::kBlocked);
  EXPECT_EQ(InfoOf(2).unmet_parents, 1);
  for (JobId stage = 1; stage <= 4; ++stage) {
    testing::Out out = Schedule();
    ASSERT_EQ(out.DispatchedJobs(), std::vector<JobId>{stage});
    EXPECT_EQ(Succeed(out.dispatches[0]).verdict, ResultVerdict::kAccepted);
  }
  EXPECT_EQ(s().CountsByState()[JobState::kSucceeded], 4u);
}

TEST_F(DependencyTest, JoinWaitsForEveryParent) {
  Register(Agent("a", 4));
  Submit({Job(1), Child(2, {1}), Child(3, {1}), Child(4, {2, 3})});
  testing::Out out = Schedule();
  ASSERT_EQ(out.DispatchedJobs(), std::vector<JobId>{1});
  Succeed(out.dispatches[0]);
  out = Schedule();
  ASSERT_EQ(out.DispatchedJobs(), (std::vector<JobId>{2, 3}));
  Succeed(out.dispatches[0]);
  EXPECT_TRUE(Schedule().dispatches.empty());
  EXPECT_EQ(StateOf(4), JobState::kBlocked);
  Succeed(out.dispatches[1]);
  EXPECT_EQ(Schedule().DispatchedJobs(), std::vector<JobId>{4});
}

TEST_F(DependencyTest, FailureSkipsDescendantsTransitively) {
  Register(Agent("a", 4));
  JobSpec other_sweep = Child(5, {3});
  other_sweep.sweep_id = 2;
  Submit({Job(1), Child(2, {1}), Child(3, {2}), Child(4, {1}), other_sweep, Job(6)});
  testing::Out out = Schedule();
  ASSERT_EQ(out.DispatchedJobs(), (std::vector<JobId>{1, 6}));
  Report("a", out.dispatches[0].lease(), ResultKind::kFailed, "CUDA out of memory");
  out = Take();
  ASSERT_EQ(out.finished.size(), 5u);  // 1 failed, 2 3 4 5 skipped
  EXPECT_EQ(out.FinishedOf(1)->state, JobState::kFailed);
  for (JobId id : {2, 3, 4, 5}) {
    const JobFinished* f = out.FinishedOf(id);
    ASSERT_NE(f, nullptr) << id;
    EXPECT_EQ(f->state, JobState::kSkipped);
    EXPECT_NE(f->reason.find("job 1 failed"), std::string::npos) << f->reason;
    EXPECT_NE(f->reason.find("CUDA out of memory"), std::string::npos) << f->reason;
  }
  EXPECT_EQ(StateOf(6), JobState::kLeased);  // unrelated work goes on
}

TEST_F(DependencyTest, CancelledParentSkipsChildren) {
  Submit({Job(1), Child(2, {1}), Child(3, {2})});
  ASSERT_TRUE(s().CancelJob(1, "user request").ok());
  EXPECT_EQ(StateOf(1), JobState::kCancelled);
  EXPECT_EQ(StateOf(2), JobState::kSkipped);
  EXPECT_EQ(StateOf(3), JobState::kSkipped);
  EXPECT_NE(InfoOf(3).reason.find("user request"), std::string::npos);
}

TEST_F(DependencyTest, ChildOfAFinishedParent) {
  Register(Agent("a", 1));
  Submit({Job(1), Job(2)});
  ASSERT_TRUE(s().CancelJob(2, "").ok());
  testing::Out out = Schedule();
  Succeed(out.dispatches.at(0));
  Take();
  Submit({Child(3, {1}), Child(4, {2})});
  out = Take();
  ASSERT_NE(out.FinishedOf(4), nullptr);
  EXPECT_EQ(out.FinishedOf(4)->state, JobState::kSkipped);
  EXPECT_EQ(StateOf(3), JobState::kQueued);  // its parent already succeeded
}

TEST_F(DependencyTest, LongChainsDoNotRecurse) {
  Register(Agent("a", 1));
  std::vector<JobSpec> chain{Job(1)};
  for (JobId id = 2; id <= 50000; ++id) chain.push_back(Child(id, {id - 1}));
  Submit(chain);
  ASSERT_TRUE(s().CancelJob(1, "").ok());
  EXPECT_EQ(s().CountsByState()[JobState::kSkipped], 49999u);
}

}  // namespace
}  // namespace farm::scheduler
