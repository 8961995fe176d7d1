// Permanent failures (the job cannot succeed anywhere) fail the job at once and skip its
// dependents; transient ones exclude the agent and retry elsewhere.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

class FailureKindsTest : public testing::SchedulerTest {
 protected:
  ResultAck FailPermanently(const Dispatch& d, const std::string& error) {
    auto ack = s().ReportResult(d.placements.at(0).agent,
                                ResultReport{d.lease(), ResultKind::kFailed, error, true});
    EXPECT_TRUE(ack.ok()) << ack.status().ToString();
    return ack.ok() ? *ack : ResultAck{};
  }
};

TEST_F(FailureKindsTest, PermanentFailureFailsAtOnceWithTheAgentsMessageAndSkipsDependents) {
  for (const char* id : {"a", "b", "c"}) Register(Agent(id));
  JobSpec child = Job(2);
  child.deps = {1};
  JobSpec grandchild = Job(3);
  grandchild.deps = {2};
  Submit({Job(1), child, grandchild});
  testing::Out out = Schedule();
  ASSERT_NE(out.DispatchOf(1), nullptr);
  const Dispatch d = *out.DispatchOf(1);  // `out` is reused below
  const std::string error = "data_loss: /m/lora.safetensors: file has only 100 bytes";
  EXPECT_EQ(FailPermanently(d, error).verdict, ResultVerdict::kAccepted);

  out = Take();
  EXPECT_TRUE(out.requeues.empty());
  const JobFinished* failed = out.FinishedOf(1);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->state, JobState::kFailed);
  EXPECT_NE(failed->reason.find(error), std::string::npos) << failed->reason;
  EXPECT_NE(failed->reason.find("permanent"), std::string::npos) << failed->reason;
  EXPECT_NE(failed->reason.find("agent " + d.placements[0].agent), std::string::npos)
      << failed->reason;
  EXPECT_EQ(StateOf(2), JobState::kSkipped);
  EXPECT_EQ(StateOf(3), JobState::kSkipped);
  // Two free agents never failed it, and still nothing is offered again.
  EXPECT_TRUE(Schedule().dispatches.empty());
  EXPECT_EQ(InfoOf(1).attempts.size(), 1u);
  EXPECT_TRUE(s().UnrunnableJobs().empty());
}

TEST_F(FailureKindsTest, TransientFailureRetriesOnAnotherAgent) {
  Register(Agent("a"));
  Register(Agent("b"));
  JobSpec child = Job(2);
  child.deps = {1};
  Submit({Job(1), child});
  testing::Out out = Schedule();
  ASSERT_NE(out.DispatchOf(1), nullptr);
  const Dispatch first = *out.DispatchOf(1);
  Report(first.placements[0].agent, first.lease(), ResultKind::kFailed, "internal: out of memory");
  out = Schedule();
  ASSERT_EQ(out.requeues.size(), 1u);
  const Dispatch* second = out.DispatchOf(1);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second->placements[0].agent, first.placements[0].agent);
  EXPECT_EQ(StateOf(2), JobState::kBlocked);
  EXPECT_EQ(Succeed(*second).verdict, ResultVerdict::kAccepted);
  EXPECT_EQ(StateOf(1), JobState::kSucceeded);
}

TEST_F(FailureKindsTest, PermanentFailureOfOneGangRankCancelsTheOtherRanks) {
  Register(Agent("a"));
  Register(Agent("b"));
  JobSpec gang = Job(1);
  gang.gang_size = 2;
  Submit(gang);
  testing::Out out = Schedule();
  ASSERT_NE(out.DispatchOf(1), nullptr);
  const Dispatch d = *out.DispatchOf(1);
  ASSERT_EQ(d.placements.size(), 2u);
  auto ack = s().ReportResult(d.placements[1].agent, ResultReport{d.lease(), ResultKind::kFailed,
                                                                  "invalid_argument: bad rank", true});
  ASSERT_TRUE(ack.ok()) << ack.status().ToString();
  out = Take();
  ASSERT_EQ(out.cancels.size(), 1u);
  EXPECT_EQ(out.cancels[0].agent, d.placements[0].agent);
  ASSERT_NE(out.FinishedOf(1), nullptr);
  EXPECT_EQ(out.FinishedOf(1)->state, JobState::kFailed);
}

TEST_F(FailureKindsTest, APermanentFlagOnAnythingButAFailureChangesNothing) {
  Register(Agent("a"));
  Submit(Job(1));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  auto ack = s().ReportResult("a", ResultReport{out.dispatches[0].lease(), ResultKind::kReleased,
                                                "shutting down", true});
  ASSERT_TRUE(ack.ok());
  out = Schedule();
  EXPECT_EQ(out.requeues.size(), 1u);
  EXPECT_EQ(out.DispatchedJobs(), std::vector<JobId>{1});
}

}  // namespace
}  // namespace farm::scheduler
