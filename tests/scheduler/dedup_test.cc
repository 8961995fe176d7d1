// Renders with the same param_hash are rendered once unless forced.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;
using testing::Render;

class DedupTest : public testing::SchedulerTest {};

TEST_F(DedupTest, RenderWithAnExistingResultIsLinkedNotDispatched) {
  Register(Agent("a", 2));
  Submit(Render(1, "h1"));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  Succeed(out.dispatches[0]);
  Take();
  JobSpec score = Job(3);
  score.deps = {2};
  Submit({Render(2, "h1"), score});
  out = Take();
  const JobFinished* f = out.FinishedOf(2);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->state, JobState::kSucceeded);
  ASSERT_TRUE(f->linked_to.has_value());
  EXPECT_EQ(*f->linked_to, 1);
  EXPECT_EQ(InfoOf(2).attempt_count, 0);
  // Its dependents run as if it had rendered.
  EXPECT_EQ(Schedule().DispatchedJobs(), std::vector<JobId>{3});
}

TEST_F(DedupTest, ForceRendersAgain) {
  Register(Agent("a", 2));
  Submit(Render(1, "h1"));
  Succeed(Schedule().dispatches.at(0));
  Submit(Render(2, "h1", /*force=*/true));
  testing::Out out = Schedule();
  EXPECT_EQ(out.DispatchedJobs(), std::vector<JobId>{2});
  EXPECT_EQ(out.FinishedOf(2), nullptr);
}

TEST_F(DedupTest, DuplicateWaitsForTheRenderInFlight) {
  Register(Agent("a", 4));
  Submit({Render(1, "h1"), Render(2, "h1"), Render(3, "h2")});
  testing::Out out = Schedule();
  EXPECT_EQ(out.DispatchedJobs(), (std::vector<JobId>{1, 3}));
  EXPECT_EQ(StateOf(2), JobState::kQueued);
  EXPECT_EQ(s().QueueDepth(), 1u);
  Succeed(*out.DispatchOf(1));
  out = Take();
  ASSERT_NE(out.FinishedOf(2), nullptr);
  EXPECT_EQ(out.FinishedOf(2)->linked_to, std::optional<JobId>(1));
  EXPECT_EQ(s().QueueDepth(), 0u);
}

TEST_F(DedupTest, DuplicateRendersItselfWhenTheFirstGivesNoResult) {
  Register(Agent("a", 4));
  Submit({Render(1, "h1"), Render(2, "h1")});
  testing::Out out = Schedule();
  ASSERT_EQ(out.DispatchedJobs(), std::vector<JobId>{1});
  ASSERT_TRUE(s().CancelJob(1, "wrong prompt").ok());
  Report("a", out.dispatches[0].lease(), ResultKind::kCancelled);
  out = Schedule();
  EXPECT_EQ(out.DispatchedJobs(), std::vector<JobId>{2});
}

TEST_F(DedupTest, LateResultOfACancelledRenderIsStillAResult) {
  Register(Agent("a", 4));
  Submit(Render(1, "h1"));
  testing::Out out = Schedule();
  ASSERT_TRUE(s().CancelJob(1, "").ok());
  ResultAck ack = Succeed(out.dispatches.at(0));
  EXPECT_EQ(ack.verdict, ResultVerdict::kAccepted);
  EXPECT_TRUE(ack.after_cancel);
  Submit(Render(2, "h1"));
  out = Take();
  ASSERT_NE(out.FinishedOf(2), nullptr);
  EXPECT_EQ(out.FinishedOf(2)->linked_to, std::optional<JobId>(1));
}

TEST_F(DedupTest, OnlyRendersAreDeduplicated) {
  Register(Agent("a", 4));
  JobSpec score1 = Job(1);
  score1.kind = JobKind::kScore;
  score1.param_hash = "same";
  JobSpec score2 = score1;
  score2.id = 2;
  Submit({score1, score2});
  EXPECT_EQ(Schedule().dispatches.size(), 2u);
}

}  // namespace
}  // namespace farm::scheduler
