// Cancel of jobs and sweeps: queued ones drop, running ones get a CancelRequest, late
// results are kept and marked.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

class CancelTest : public testing::SchedulerTest {};

TEST_F(CancelTest, QueuedJobIsDroppedOnce) {
  Submit({Job(1), Job(2)});
  ASSERT_TRUE(s().CancelJob(1, "not needed").ok());
  testing::Out out = Take();
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0].state, JobState::kCancelled);
  EXPECT_EQ(out.finished[0].reason, "not needed");
  ASSERT_TRUE(s().CancelJob(1, "again").ok());
  EXPECT_TRUE(Take().all.empty());
  Register(Agent("a", 2));
  EXPECT_EQ(Schedule().DispatchedJobs(), std::vector<JobId>{2});
}

TEST_F(CancelTest, RunningJobGetsCancelRequestAndKeepsItsSlotUntilTheAgentAnswers) {
  Register(Agent("a", 1));
  Submit({Job(1), Job(2)});
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  const Dispatch d = out.dispatches[0];
  ASSERT_TRUE(s().CancelJob(1, "user").ok());
  out = Take();
  ASSERT_EQ(out.cancels.size(), 1u);
  EXPECT_EQ(out.cancels[0].agent, "a");
  EXPECT_EQ(out.cancels[0].attempt, 1);
  EXPECT_EQ(StateOf(1), JobState::kCancelled);
  EXPECT_EQ(s().ActiveLeases(), 1u);
  EXPECT_TRUE(Schedule().dispatches.empty());  // a is still busy stopping job 1
  ResultAck ack = Report("a", d.lease(), ResultKind::kCancelled);
  EXPECT_EQ(ack.verdict, ResultVerdict::kAccepted);
  EXPECT_TRUE(ack.after_cancel);
  out = Schedule();
  ASSERT_EQ(out.ended.size(), 1u);
  EXPECT_TRUE(out.ended[0].after_cancel);
  EXPECT_TRUE(out.requeues.empty());
  EXPECT_EQ(out.DispatchedJobs(), std::vector<JobId>{2});
}

TEST_F(CancelTest, ResultArrivingAfterCancelIsAcceptedAndMarked) {
  Register(Agent("a", 1));
  Submit(Job(1));
  const Dispatch d = Schedule().dispatches.at(0);
  ASSERT_TRUE(s().CancelJob(1, "").ok());
  Take();
  ResultAck ack = Succeed(d);
  EXPECT_EQ(ack.verdict, ResultVerdict::kAccepted);
  EXPECT_TRUE(ack.after_cancel);
  testing::Out out = Take();
  ASSERT_EQ(out.ended.size(), 1u);
  EXPECT_EQ(out.ended[0].outcome, AttemptOutcome::kSucceeded);
  EXPECT_TRUE(out.ended[0].after_cancel);
  EXPECT_TRUE(out.finished.empty());  // already finished as cancelled
  EXPECT_EQ(StateOf(1), JobState::kCancelled);
  EXPECT_TRUE(InfoOf(1).attempts.at(0).result_accepted);
  EXPECT_EQ(Succeed(d).verdict, ResultVerdict::kDuplicate);
}

TEST_F(CancelTest, CancelledLeaseThatExpiresIsNotRequeued) {
  Register(Agent("a", 1));
  Submit(Job(1));
  ASSERT_EQ(Schedule().dispatches.size(), 1u);
  ASSERT_TRUE(s().CancelJob(1, "").ok());
  Take();
  clock_.Advance(5000);  // the agent died before answering
  testing::Out out = Tick();
  ASSERT_EQ(out.ended.size(), 1u);
  EXPECT_EQ(out.ended[0].outcome, AttemptOutcome::kAgentLost);
  EXPECT_TRUE(out.requeues.empty());
  EXPECT_TRUE(out.dispatches.empty());
  EXPECT_EQ(s().ActiveLeases(), 0u);
  EXPECT_EQ(StateOf(1), JobState::kCancelled);
}

TEST_F(CancelTest, CancelSweepTouchesOnlyThatSweep) {
  Register(Agent("a", 1));
  Register(Agent("b", 1));
  JobSpec other = Job(4);
  other.sweep_id = 2;
  Submit({Job(1), Job(2), Job(3), other});
  testing::Out out = Schedule();
  ASSERT_EQ(out.DispatchedJobs(), (std::vector<JobId>{1, 2}));
  ASSERT_TRUE(s().CancelSweep(1, "sweep stopped").ok());
  out = Take();
  EXPECT_EQ(out.cancels.size(), 2u);
  EXPECT_EQ(out.finished.size(), 3u);
  EXPECT_EQ(StateOf(4), JobState::kQueued);
  EXPECT_EQ(s().CountsByState()[JobState::kCancelled], 3u);
}

TEST_F(CancelTest, CancelledGangTellsEveryRank) {
  Register(Agent("a", 1));
  Register(Agent("b", 1));
  JobSpec gang = Job(1);
  gang.gang_size = 2;
  Submit(gang);
  ASSERT_EQ(Schedule().dispatches.size(), 1u);
  ASSERT_TRUE(s().CancelJob(1, "").ok());
  testing::Out out = Take();
  ASSERT_EQ(out.cancels.size(), 2u);
  EXPECT_NE(out.cancels[0].agent, out.cancels[1].agent);
}

}  // namespace
}  // namespace farm::scheduler
