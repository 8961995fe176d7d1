// Queued jobs that no online agent may take are reported with their reason, and stop
// being reported once an agent that may take them joins.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;
using testing::kGiB;

class UnrunnableTest : public testing::SchedulerTest {
 protected:
  std::string ReasonOf(JobId job) {
    for (const UnrunnableJob& u : s().UnrunnableJobs()) {
      if (u.job == job) return u.reason;
    }
    return "";
  }
};

TEST_F(UnrunnableTest, AJobEveryOnlineAgentFailedIsReportedWithTheLastError) {
  Register(Agent("a"));
  Register(Agent("b"));
  Submit({Job(1), Job(2)});
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 2u);
  EXPECT_TRUE(s().UnrunnableJobs().empty());
  // Each fails job 1 in turn (transient), so job 1 is left with no agent; job 2 succeeds.
  const Dispatch* one = out.DispatchOf(1);
  Report(one->placements[0].agent, one->lease(), ResultKind::kFailed, "internal: crash 1");
  Succeed(*out.DispatchOf(2));
  out = Schedule();
  one = out.DispatchOf(1);
  ASSERT_NE(one, nullptr);
  Report(one->placements[0].agent, one->lease(), ResultKind::kFailed, "internal: crash 2");
  EXPECT_TRUE(Schedule().dispatches.empty());

  const std::vector<UnrunnableJob> stuck = s().UnrunnableJobs();
  ASSERT_EQ(stuck.size(), 1u);
  EXPECT_EQ(stuck[0].job, 1);
  EXPECT_EQ(stuck[0].reason, "failed on every online agent (a, b): internal: crash 2");
  EXPECT_TRUE(s().UnrunnableJobs(/*sweep=*/7).empty());
  EXPECT_EQ(s().UnrunnableJobs(/*sweep=*/1).size(), 1u);

  // A fresh agent may take it: no longer unrunnable, and it runs there.
  Register(Agent("c"));
  EXPECT_TRUE(s().UnrunnableJobs().empty());
  out = Schedule();
  ASSERT_NE(out.DispatchOf(1), nullptr);
  EXPECT_EQ(out.DispatchOf(1)->placements[0].agent, "c");
}

TEST_F(UnrunnableTest, NoAgentOnlineIsAReason) {
  Submit(Job(1));
  EXPECT_EQ(ReasonOf(1), "no agent is online");
  Register(Agent("a"));
  EXPECT_EQ(ReasonOf(1), "");
}

TEST_F(UnrunnableTest, BusyAgentsDoNotMakeAJobUnrunnable) {
  Register(Agent("a"));
  Submit({Job(1), Job(2)});
  ASSERT_EQ(Schedule().dispatches.size(), 1u);
  EXPECT_TRUE(s().UnrunnableJobs().empty());  // job 2 waits for a slot, which is normal
}

TEST_F(UnrunnableTest, CapabilityMismatchesAreCountedPerReason) {
  AgentSpec renders_only = Agent("r");
  renders_only.job_kinds = {JobKind::kRender};
  Register(renders_only);
  Register(Agent("small", 1, DeviceKind::kCuda, 4 * kGiB));
  Register(Agent("cpu"));
  JobSpec big = Job(1);
  big.device = DeviceKind::kCuda;
  big.min_device_memory_bytes = 16 * kGiB;
  Submit(big);
  const std::string reason = ReasonOf(1);
  EXPECT_NE(reason.find("no online agent may take it"), std::string::npos) << reason;
  EXPECT_NE(reason.find("1 of 3 does not run synthetic jobs"), std::string::npos) << reason;
  EXPECT_NE(reason.find("1 of 3 has no cuda device"), std::string::npos) << reason;
  EXPECT_NE(reason.find("1 of 3 has less than 17179869184 bytes"), std::string::npos) << reason;
}

TEST_F(UnrunnableTest, AGangLargerThanTheCapacityIsReported) {
  Register(Agent("a", 2));
  Register(Agent("b", 1));
  JobSpec gang = Job(1);
  gang.gang_size = 4;
  Submit(gang);
  EXPECT_TRUE(Schedule().dispatches.empty());
  EXPECT_EQ(ReasonOf(1),
            "needs 4 slots at once (gang) but the online agents that may take it have 3 of one "
            "device kind");
  Register(Agent("c", 1));
  EXPECT_EQ(ReasonOf(1), "");
  EXPECT_EQ(Schedule().DispatchedJobs(), std::vector<JobId>{1});
}

TEST_F(UnrunnableTest, AgentsThatCannotFetchModelsAndLackThemAreAReason) {
  AgentSpec offline = Agent("offline");
  offline.can_fetch_models = false;
  Register(offline);
  JobSpec job = Job(1);
  job.required_models = {"abc"};
  Submit(job);
  EXPECT_NE(ReasonOf(1).find("1 of 1 cannot fetch its models"), std::string::npos) << ReasonOf(1);
}

TEST_F(UnrunnableTest, BlockedAndParkedJobsAreNotReported) {
  JobSpec child = Job(2);
  child.deps = {1};
  Submit({Job(1), child});
  const std::vector<UnrunnableJob> stuck = s().UnrunnableJobs();
  ASSERT_EQ(stuck.size(), 1u);  // the child waits for its parent, not for an agent
  EXPECT_EQ(stuck[0].job, 1);
}

}  // namespace
}  // namespace farm::scheduler
