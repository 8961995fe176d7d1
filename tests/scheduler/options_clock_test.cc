#include <gtest/gtest.h>

#include "farm/scheduler/clock.h"
#include "farm/scheduler/options.h"
#include "farm/scheduler/scheduler.h"
#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

TEST(OptionsTest, DefaultsAreValidAndDocumentedValues) {
  SchedulerOptions options;
  EXPECT_TRUE(ValidateOptions(options).ok());
  EXPECT_EQ(options.heartbeat_interval_ms, 1000);
  EXPECT_EQ(options.heartbeat_liveness, 3);
  EXPECT_EQ(LivenessTimeoutMs(options), 3000);
  EXPECT_EQ(options.max_distinct_agent_failures, 3);
}

TEST(OptionsTest, RejectsEachBadField) {
  auto expect_bad = [](auto mutate, const char* field) {
    SchedulerOptions options;
    mutate(options);
    Status status = ValidateOptions(options);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << field;
    EXPECT_NE(status.message().find(field), std::string::npos) << status.message();
  };
  expect_bad([](SchedulerOptions& o) { o.heartbeat_interval_ms = 0; }, "heartbeat_interval_ms");
  expect_bad([](SchedulerOptions& o) { o.heartbeat_liveness = 0; }, "heartbeat_liveness");
  expect_bad([](SchedulerOptions& o) { o.lease_timeout_ms = -1; }, "lease_timeout_ms");
  expect_bad([](SchedulerOptions& o) { o.max_distinct_agent_failures = 0; },
             "max_distinct_agent_failures");
  expect_bad([](SchedulerOptions& o) { o.max_attempts = -1; }, "max_attempts");
  expect_bad([](SchedulerOptions& o) { o.restore_grace_ms = -5; }, "restore_grace_ms");
  expect_bad([](SchedulerOptions& o) { o.gang_replan_ms = 0; }, "gang_replan_ms");
  expect_bad([](SchedulerOptions& o) { o.heartbeat_interval_ms = INT64_MAX / 2; },
             "heartbeat_interval_ms");
}

TEST(OptionsTest, CreateRefusesBadOptions) {
  FakeClock clock;
  SchedulerOptions options;
  options.heartbeat_liveness = -2;
  auto created = Scheduler::Create(clock, options);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kInvalidArgument);
}

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(1000);
  EXPECT_EQ(clock.NowMs(), 1000);
  clock.Advance(250);
  EXPECT_EQ(clock.NowMs(), 1250);
  clock.Advance(-100);  // ignored
  EXPECT_EQ(clock.NowMs(), 1250);
  clock.Set(10);
  EXPECT_EQ(clock.NowMs(), 10);
}

TEST(ClockTest, SystemClockIsNearNow) {
  SystemClock clock;
  // After 2020-01-01 and before 2100-01-01: a Unix-epoch millisecond value.
  EXPECT_GT(clock.NowMs(), 1'577'836'800'000);
  EXPECT_LT(clock.NowMs(), 4'102'444'800'000);
}

class ClockStepTest : public testing::SchedulerTest {};

TEST_F(ClockStepTest, ClockSteppingBackwardsDoesNotExpireOrExtendAnything) {
  Register(testing::Agent("a"));
  Submit(testing::Job(1));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  const TimeMs deadline = out.dispatches[0].deadline_ms;
  clock_.Set(clock_.NowMs() - 3'600'000);  // an hour back (NTP step)
  ASSERT_TRUE(s().Heartbeat("a").ok());
  EXPECT_EQ(InfoOf(1).lease_deadline_ms, deadline);  // time stands still, no shrink
  out = Tick();
  EXPECT_TRUE(out.all.empty());
  EXPECT_EQ(StateOf(1), JobState::kLeased);
}

}  // namespace
}  // namespace farm::scheduler
