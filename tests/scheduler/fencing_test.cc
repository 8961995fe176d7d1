// Leases with fencing: only the current holder's result counts, once; deadlines extend
// on heartbeat and progress and expire otherwise.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

class FencingTest : public testing::SchedulerTest {
 protected:
  // Agents a and b, job 1 leased to a.
  Dispatch LeaseToA() {
    Register(Agent("a"));
    Submit(Job(1));
    testing::Out out = Schedule();
    EXPECT_EQ(out.dispatches.size(), 1u);
    Register(Agent("b"));
    return out.dispatches.at(0);
  }
};

TEST_F(FencingTest, DuplicateResultIsAcknowledgedAndIgnored) {
  Dispatch d = LeaseToA();
  EXPECT_EQ(Succeed(d).verdict, ResultVerdict::kAccepted);
  Take();
  ResultAck again = Report("a", d.lease(), ResultKind::kFailed, "retry of a lost ack");
  EXPECT_EQ(again.verdict, ResultVerdict::kDuplicate);
  EXPECT_TRUE(Take().all.empty());
  EXPECT_EQ(StateOf(1), JobState::kSucceeded);
  EXPECT_EQ(s().CountsByState()[JobState::kSucceeded], 1u);
}

TEST_F(FencingTest, ResultFromANonHolderIsStale) {
  Dispatch d = LeaseToA();
  ResultAck ack = Report("b", d.lease());
  EXPECT_EQ(ack.verdict, ResultVerdict::kStale);
  EXPECT_NE(ack.reason.find("does not hold"), std::string::npos) << ack.reason;
  EXPECT_EQ(StateOf(1), JobState::kLeased);
  EXPECT_EQ(Succeed(d).verdict, ResultVerdict::kAccepted);  // the holder still can
}

TEST_F(FencingTest, StaleAttemptIsIgnoredAfterRequeue) {
  Dispatch first = LeaseToA();
  // Only b heartbeats: a is lost after 3 s and job 1 goes to b as attempt 2.
  AdvanceWithHeartbeats(3000, {"b"});
  testing::Out out = Take();
  ASSERT_EQ(out.dispatches.size(), 1u);
  const Dispatch second = out.dispatches[0];
  EXPECT_EQ(second.attempt, 2);
  EXPECT_EQ(second.placements[0].agent, "b");
  ASSERT_TRUE(s().RegisterAgent(Agent("a")).ok());  // a comes back, with its old result
  ResultAck stale = Report("a", first.lease());
  EXPECT_EQ(stale.verdict, ResultVerdict::kStale);
  EXPECT_NE(stale.reason.find("current attempt 2"), std::string::npos) << stale.reason;
  EXPECT_EQ(Succeed(second).verdict, ResultVerdict::kAccepted);
  ResultAck late = Report("a", first.lease());
  EXPECT_EQ(late.verdict, ResultVerdict::kStale);
}

TEST_F(FencingTest, LeaseExpiresWithoutHeartbeatFromItsHolder) {
  Dispatch d = LeaseToA();
  const TimeMs timeout = s().options().lease_timeout_ms;
  // a stays alive but lists no lease in its heartbeats: the lease is not extended.
  for (TimeMs t = 1000; t < timeout; t += 1000) {
    clock_.Advance(1000);
    ASSERT_TRUE(s().Heartbeat("a", {}).ok());
    ASSERT_TRUE(s().Heartbeat("b").ok());
    ASSERT_TRUE(Tick().dispatches.empty());
  }
  clock_.Advance(1000);
  ASSERT_TRUE(s().Heartbeat("a", {}).ok());
  ASSERT_TRUE(s().Heartbeat("b").ok());
  testing::Out out = Tick();
  ASSERT_EQ(out.ended.size(), 1u);
  EXPECT_EQ(out.ended[0].outcome, AttemptOutcome::kExpired);
  ASSERT_EQ(out.requeues.size(), 1u);
  EXPECT_EQ(out.requeues[0].ended_attempt, 1);
  ASSERT_EQ(out.cancels.size(), 1u);  // tell a to stop, it may still be running it
  EXPECT_EQ(out.cancels[0].agent, "a");
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(out.dispatches[0].attempt, 2);
  EXPECT_EQ(Report("a", d.lease()).verdict, ResultVerdict::kStale);
}

TEST_F(FencingTest, HeartbeatAndProgressExtendTheDeadline) {
  Dispatch d = LeaseToA();
  const TimeMs timeout = s().options().lease_timeout_ms;
  clock_.Advance(timeout - 1);
  ASSERT_TRUE(s().Heartbeat("a").ok());
  EXPECT_EQ(InfoOf(1).lease_deadline_ms, clock_.NowMs() + timeout);
  clock_.Advance(timeout - 1);
  auto progress = s().ReportProgress("a", d.lease());
  ASSERT_TRUE(progress.ok());
  EXPECT_TRUE(*progress);
  EXPECT_EQ(InfoOf(1).lease_deadline_ms, clock_.NowMs() + timeout);
  ASSERT_TRUE(s().Heartbeat("b").ok());
  EXPECT_TRUE(Tick().ended.empty());
  EXPECT_EQ(StateOf(1), JobState::kLeased);
}

TEST_F(FencingTest, HeartbeatListExtendsOnlyCurrentLeasesAndCancelsOthers) {
  Dispatch d = LeaseToA();
  clock_.Advance(1000);
  const LeaseRef listed[] = {d.lease(), LeaseRef{1, 7}};
  ASSERT_TRUE(s().Heartbeat("a", listed).ok());
  EXPECT_EQ(InfoOf(1).lease_deadline_ms, clock_.NowMs() + s().options().lease_timeout_ms);
  testing::Out out = Take();
  ASSERT_EQ(out.cancels.size(), 1u);
  EXPECT_EQ(out.cancels[0].attempt, 7);
  EXPECT_EQ(out.cancels[0].agent, "a");
}

TEST_F(FencingTest, ProgressFromANonHolderAsksItToStop) {
  Dispatch d = LeaseToA();
  auto progress = s().ReportProgress("b", d.lease());
  ASSERT_TRUE(progress.ok());
  EXPECT_FALSE(*progress);
  testing::Out out = Take();
  ASSERT_EQ(out.cancels.size(), 1u);
  EXPECT_EQ(out.cancels[0].agent, "b");
  EXPECT_EQ(StateOf(1), JobState::kLeased);
}

TEST_F(FencingTest, AttemptHistoryKeepsEveryLease) {
  Dispatch d = LeaseToA();
  Report("a", d.lease(), ResultKind::kReleased, "shutting down");
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  Succeed(out.dispatches[0]);
  JobInfo info = InfoOf(1);
  ASSERT_EQ(info.attempts.size(), 2u);
  EXPECT_EQ(info.attempts[0].outcome, AttemptOutcome::kReleased);
  EXPECT_EQ(info.attempts[0].reported_by, "a");
  EXPECT_EQ(info.attempts[1].outcome, AttemptOutcome::kSucceeded);
  EXPECT_TRUE(info.attempts[1].result_accepted);
  EXPECT_FALSE(info.lease.has_value());
}

}  // namespace
}  // namespace farm::scheduler
