// Faults that must not lose or waste work: an agent that re-registers without a restart
// keeps the leases it reports, a busy refusal spends no attempt, and a lease whose offer
// the agent never received is requeued by its next heartbeat.
#include <gtest/gtest.h>

#include <vector>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

class ReconnectTest : public testing::SchedulerTest {
 protected:
  ReconnectTest() : SchedulerTest(Options()) {}
  static SchedulerOptions Options() {
    SchedulerOptions options;
    options.max_attempts = 2;
    return options;
  }
  Status Reregister(const AgentSpec& spec, std::vector<LeaseRef> held) {
    return s().RegisterAgent(spec, held);
  }
  Status Beat(const std::string& agent, std::vector<LeaseRef> held,
              std::vector<LeaseRef> in_flight = {}) {
    return s().Heartbeat(agent, held, in_flight);
  }
  ResultAck RefuseBusy(const std::string& agent, LeaseRef lease) {
    ResultReport report;
    report.lease = lease;
    report.kind = ResultKind::kReleased;
    report.error = "all 1 slots of agent " + agent + " are busy";
    report.busy = true;
    auto ack = s().ReportResult(agent, report);
    EXPECT_TRUE(ack.ok()) << ack.status().ToString();
    return ack.ok() ? *ack : ResultAck{};
  }
};

TEST_F(ReconnectTest, ReregistrationKeepsTheLeasesTheAgentReports) {
  Register(Agent("a", 2));
  Submit({Job(1), Job(2), Job(3)});
  testing::Out first = Schedule();
  ASSERT_EQ(first.DispatchedJobs(), (std::vector<JobId>{1, 2}));

  ASSERT_TRUE(Reregister(Agent("a", 2), {{1, 1}, {2, 1}}).ok());
  testing::Out out = Schedule();
  EXPECT_TRUE(out.ended.empty()) << "a reconnect ended " << out.ended.size() << " leases";
  EXPECT_TRUE(out.requeues.empty());
  EXPECT_TRUE(out.dispatches.empty()) << "no slot is free: both still run jobs 1 and 2";
  EXPECT_TRUE(out.cancels.empty());
  for (JobId job : {1, 2}) {
    EXPECT_EQ(StateOf(job), JobState::kLeased);
    EXPECT_EQ(InfoOf(job).attempt_count, 1) << "job " << job;
  }
  auto agent = s().GetAgent("a");
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(agent->busy_slots, 2);
  // The kept leases are current: their results are accepted, and job 3 follows.
  EXPECT_EQ(Succeed(*first.DispatchOf(1)).verdict, ResultVerdict::kAccepted);
  testing::Out next = Schedule();
  ASSERT_EQ(next.DispatchedJobs(), (std::vector<JobId>{3}));
  EXPECT_EQ(next.dispatches[0].attempt, 1);
}

TEST_F(ReconnectTest, ReregistrationRequeuesUnreportedLeasesAndCancelsStaleOnes) {
  Register(Agent("a", 2));
  Register(Agent("b", 1, DeviceKind::kCpu, 16 * testing::kGiB));
  Submit({Job(1), Job(2)});
  testing::Out first = Schedule();
  ASSERT_EQ(first.dispatches.size(), 2u);
  ASSERT_EQ(first.DispatchOf(1)->placements[0].agent, "a");
  ASSERT_EQ(first.DispatchOf(2)->placements[0].agent, "a");

  // a reports job 1 and an attempt of job 2 it cannot hold (the current one is 1).
  ASSERT_TRUE(Reregister(Agent("a", 2), {{1, 1}, {2, 7}}).ok());
  testing::Out out = Take();
  ASSERT_EQ(out.ended.size(), 1u);
  EXPECT_EQ(out.ended[0].job, 2);
  EXPECT_EQ(out.ended[0].outcome, AttemptOutcome::kAgentLost);
  ASSERT_EQ(out.requeues.size(), 1u);
  EXPECT_EQ(out.requeues[0].job, 2);
  ASSERT_EQ(out.cancels.size(), 1u);
  EXPECT_EQ(out.cancels[0].job, 2);
  EXPECT_EQ(out.cancels[0].attempt, 7);
  EXPECT_EQ(out.cancels[0].agent, "a");
  EXPECT_EQ(StateOf(1), JobState::kLeased);
  EXPECT_EQ(InfoOf(1).attempt_count, 1);
}

TEST_F(ReconnectTest, LeasesOfAnAgentDeclaredLostAreStaleWhenItComesBack) {
  Register(Agent("a"));
  Submit(Job(1));
  ASSERT_EQ(Schedule().dispatches.size(), 1u);
  Register(Agent("b"));
  AdvanceWithHeartbeats(3000, {"b"});  // a is silent: lost, job 1 goes to b
  testing::Out moved = Take();
  ASSERT_EQ(moved.dispatches.size(), 1u);
  ASSERT_EQ(moved.dispatches[0].placements[0].agent, "b");

  ASSERT_TRUE(Reregister(Agent("a"), {{1, 1}}).ok());
  testing::Out out = Schedule();
  ASSERT_EQ(out.cancels.size(), 1u);
  EXPECT_EQ(out.cancels[0].agent, "a");
  EXPECT_EQ(out.cancels[0].attempt, 1);
  EXPECT_TRUE(out.ended.empty());
  EXPECT_EQ(InfoOf(1).lease->attempt, 2);  // b keeps it
}

TEST_F(ReconnectTest, BusyRefusalsSpendNoAttemptAndPauseTheAgentUntilItsHeartbeat) {
  Register(Agent("a"));
  Submit(Job(1));
  // max_attempts is 2: five busy refusals in a row must not fail the job.
  for (int i = 1; i <= 5; ++i) {
    testing::Out out = Schedule();
    ASSERT_EQ(out.dispatches.size(), 1u) << "round " << i;
    EXPECT_EQ(RefuseBusy("a", out.dispatches[0].lease()).verdict, ResultVerdict::kAccepted);
    testing::Out after = Schedule();
    EXPECT_TRUE(after.dispatches.empty()) << "offered to a busy agent again before its heartbeat";
    EXPECT_TRUE(after.finished.empty()) << "round " << i;
    ASSERT_TRUE(Beat("a", {}).ok());
  }
  JobInfo info = InfoOf(1);
  EXPECT_EQ(info.state, JobState::kQueued);
  EXPECT_EQ(info.attempt_count, 5);  // fencing tokens still advance
  EXPECT_EQ(info.uncounted_attempts, 5);
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(Succeed(out.dispatches[0]).verdict, ResultVerdict::kAccepted);
  EXPECT_EQ(StateOf(1), JobState::kSucceeded);
}

TEST_F(ReconnectTest, FreeAttemptsAreCappedSoARefusingAgentCannotRequeueAJobForever) {
  Register(Agent("a"));
  Submit(Job(1));
  // max_attempts is 2: kMaxUncountedAttempts refusals are forgiven, the next two count.
  for (int i = 1; i <= kMaxUncountedAttempts + 2; ++i) {
    testing::Out out = Schedule();
    ASSERT_EQ(out.dispatches.size(), 1u) << "round " << i;
    RefuseBusy("a", out.dispatches[0].lease());
    if (i <= kMaxUncountedAttempts + 1) {
      EXPECT_EQ(StateOf(1), JobState::kQueued) << "round " << i;
    }
    ASSERT_TRUE(Beat("a", {}).ok());
  }
  EXPECT_EQ(StateOf(1), JobState::kFailed);
}

TEST_F(ReconnectTest, UncountedAttemptsSurviveARestore) {
  RestoredJob job;
  job.spec = Job(1);
  job.state = JobState::kQueued;
  job.attempt_count = 3;
  job.uncounted_attempts = 3;  // three busy refusals before farmd restarted
  RestoreInput input;
  input.jobs.push_back(job);
  ASSERT_TRUE(s().Restore(input).ok());
  EXPECT_EQ(InfoOf(1).uncounted_attempts, 3);
  Register(Agent("a"));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(out.dispatches[0].attempt, 4);
  // A counted attempt: 1 of max_attempts 2, so the job is tried again.
  Report("a", out.dispatches[0].lease(), ResultKind::kReleased, "shutting down");
  EXPECT_EQ(StateOf(1), JobState::kQueued);
}

TEST_F(ReconnectTest, PlainReleasesStillCountAgainstMaxAttempts) {
  Register(Agent("a"));
  Submit(Job(1));
  for (int i = 0; i < 2; ++i) {
    testing::Out out = Schedule();
    ASSERT_EQ(out.dispatches.size(), 1u);
    Report("a", out.dispatches[0].lease(), ResultKind::kReleased, "shutting down");
  }
  EXPECT_EQ(StateOf(1), JobState::kFailed);
}

TEST_F(ReconnectTest, LostOfferIsRequeuedByTheFirstHeartbeatThatShouldListIt) {
  Register(Agent("a"));
  Submit(Job(1));
  testing::Out first = Schedule();
  ASSERT_EQ(first.dispatches.size(), 1u);
  const LeaseRef lease = first.dispatches[0].lease();

  // Built before the offer reached the agent: in flight, not judged yet.
  ASSERT_TRUE(Beat("a", {}, {lease}).ok());
  testing::Out early = Take();
  EXPECT_TRUE(early.ended.empty());
  EXPECT_EQ(StateOf(1), JobState::kLeased);
  // Listed: kept.
  ASSERT_TRUE(Beat("a", {lease}).ok());
  EXPECT_TRUE(Take().ended.empty());
  // Not listed although the offer was sent before the heartbeat was built: lost.
  ASSERT_TRUE(Beat("a", {}).ok());
  testing::Out out = Take();
  ASSERT_EQ(out.ended.size(), 1u);
  EXPECT_EQ(out.ended[0].outcome, AttemptOutcome::kAgentLost);
  EXPECT_NE(out.ended[0].error.find("offer was lost"), std::string::npos) << out.ended[0].error;
  EXPECT_FALSE(out.ended[0].counted) << "the wire lost the offer, not the job";
  EXPECT_EQ(InfoOf(1).uncounted_attempts, 1);
  ASSERT_EQ(out.requeues.size(), 1u);
  EXPECT_TRUE(out.cancels.empty()) << "the agent never had the lease: nothing to cancel";
  testing::Out again = Schedule();
  ASSERT_EQ(again.dispatches.size(), 1u);
  EXPECT_EQ(again.dispatches[0].attempt, 2);
  EXPECT_EQ(Succeed(again.dispatches[0]).verdict, ResultVerdict::kAccepted);
  EXPECT_EQ(Report("a", lease).verdict, ResultVerdict::kStale);
}

TEST_F(ReconnectTest, AHeldLeaseWhoseResultWasAcceptedIsNotCancelled) {
  Register(Agent("a"));
  Submit(Job(1));
  testing::Out first = Schedule();
  ASSERT_EQ(first.dispatches.size(), 1u);
  const LeaseRef lease = first.dispatches[0].lease();
  EXPECT_EQ(Succeed(first.dispatches[0]).verdict, ResultVerdict::kAccepted);
  Take();
  // The agent keeps listing it until its ack arrives: no cancel, which would make it
  // upload the result again.
  ASSERT_TRUE(Beat("a", {lease}).ok());
  EXPECT_TRUE(Take().cancels.empty());
  ASSERT_TRUE(Reregister(Agent("a"), {lease}).ok());
  EXPECT_TRUE(Take().cancels.empty());
  ASSERT_TRUE(Beat("a", {{1, 9}}).ok());  // a lease that never was: cancelled
  EXPECT_EQ(Take().cancels.size(), 1u);
}

}  // namespace
}  // namespace farm::scheduler
