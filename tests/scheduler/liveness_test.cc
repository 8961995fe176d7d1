// Heartbeats: silent agents are declared dead and their leases requeued.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

class LivenessTest : public testing::SchedulerTest {
 protected:
  explicit LivenessTest(SchedulerOptions options = {}) : SchedulerTest(options) {}
};

TEST_F(LivenessTest, SilentAgentIsLostAfterLivenessTimesInterval) {
  Register(Agent("a", 2));
  Register(Agent("b", 2));
  Submit({Job(1), Job(2)});
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 2u);
  ASSERT_EQ(out.dispatches[0].placements[0].agent, "a");
  ASSERT_EQ(out.dispatches[1].placements[0].agent, "a");
  AdvanceWithHeartbeats(2000, {"b"});
  clock_.Advance(999);
  ASSERT_TRUE(s().Heartbeat("b").ok());
  EXPECT_TRUE(Tick().ended.empty());  // 2999 ms of silence: still alive
  EXPECT_EQ(s().GetAgent("a")->state, AgentState::kOnline);
  clock_.Advance(1);
  out = Tick();
  EXPECT_EQ(s().GetAgent("a")->state, AgentState::kLost);
  ASSERT_EQ(out.ended.size(), 2u);
  EXPECT_EQ(out.ended[0].outcome, AttemptOutcome::kAgentLost);
  ASSERT_EQ(out.requeues.size(), 2u);
  ASSERT_EQ(out.dispatches.size(), 2u);
  for (const Dispatch& d : out.dispatches) {
    EXPECT_EQ(d.placements[0].agent, "b");
    EXPECT_EQ(d.attempt, 2);
  }
  EXPECT_EQ(s().Heartbeat("a").code(), StatusCode::kFailedPrecondition);
}

TEST_F(LivenessTest, HeartbeatsKeepAnAgentAlive) {
  Register(Agent("a"));
  Submit(Job(1));
  ASSERT_EQ(Schedule().dispatches.size(), 1u);
  AdvanceWithHeartbeats(60'000, {"a"});
  EXPECT_EQ(s().GetAgent("a")->state, AgentState::kOnline);
  EXPECT_EQ(StateOf(1), JobState::kLeased);
  EXPECT_EQ(InfoOf(1).attempt_count, 1);
}

TEST_F(LivenessTest, ReRegisteringWhileOnlineStartsFresh) {
  Register(Agent("a", 2));
  Submit(Job(1));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  const Dispatch first = out.dispatches[0];
  Register(Agent("a", 2));  // the agent process restarted
  out = Take();
  ASSERT_EQ(out.requeues.size(), 1u);
  ASSERT_EQ(out.ended.size(), 1u);
  EXPECT_EQ(out.ended[0].outcome, AttemptOutcome::kAgentLost);
  EXPECT_EQ(s().GetAgent("a")->busy_slots, 0);
  out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(out.dispatches[0].attempt, 2);
  EXPECT_EQ(Report("a", first.lease()).verdict, ResultVerdict::kStale);
}

TEST_F(LivenessTest, LostAgentRegistersAgainAndGetsWork) {
  Register(Agent("a"));
  clock_.Advance(10'000);
  Tick();
  ASSERT_EQ(s().GetAgent("a")->state, AgentState::kLost);
  Submit(Job(1));
  EXPECT_TRUE(Schedule().dispatches.empty());
  Register(Agent("a"));
  EXPECT_EQ(Schedule().DispatchedJobs(), std::vector<JobId>{1});
}

TEST_F(LivenessTest, DeregisterRequeuesAndIsIdempotent) {
  Register(Agent("a"));
  Submit(Job(1));
  ASSERT_EQ(Schedule().dispatches.size(), 1u);
  ASSERT_TRUE(s().DeregisterAgent("a", "maintenance").ok());
  testing::Out out = Take();
  ASSERT_EQ(out.requeues.size(), 1u);
  EXPECT_NE(out.requeues[0].reason.find("maintenance"), std::string::npos);
  EXPECT_EQ(s().GetAgent("a")->state, AgentState::kOffline);
  ASSERT_TRUE(s().DeregisterAgent("a", "again").ok());
  EXPECT_TRUE(Take().all.empty());
  EXPECT_EQ(s().SetDraining("a", true).code(), StatusCode::kFailedPrecondition);
}

SchedulerOptions SlowHeartbeats() {
  SchedulerOptions options;
  options.heartbeat_interval_ms = 500;
  options.heartbeat_liveness = 5;
  return options;
}

class ConfiguredLivenessTest : public LivenessTest {
 protected:
  ConfiguredLivenessTest() : LivenessTest(SlowHeartbeats()) {}
};

TEST_F(ConfiguredLivenessTest, UsesConfiguredIntervalAndLiveness) {
  Register(Agent("a"));
  clock_.Advance(2499);
  Tick();
  EXPECT_EQ(s().GetAgent("a")->state, AgentState::kOnline);
  clock_.Advance(1);
  Tick();
  EXPECT_EQ(s().GetAgent("a")->state, AgentState::kLost);
}

TEST_F(LivenessTest, AnyMessageCountsAsAHeartbeat) {
  Register(Agent("a"));
  Submit(Job(1));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(2000);
    ASSERT_TRUE(s().ReportProgress("a", out.dispatches[0].lease()).ok());
    Tick();
  }
  EXPECT_EQ(s().GetAgent("a")->state, AgentState::kOnline);
}

}  // namespace
}  // namespace farm::scheduler
