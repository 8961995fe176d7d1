// Capability matching and model affinity.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;
using testing::kGiB;

class MatchingTest : public testing::SchedulerTest {
 protected:
  std::string AgentOf(const testing::Out& out, JobId job) {
    const Dispatch* d = out.DispatchOf(job);
    return d == nullptr ? std::string("<none>") : d->placements.at(0).agent;
  }
};

TEST_F(MatchingTest, DeviceKindMustMatch) {
  Register(Agent("cpu", 4, DeviceKind::kCpu));
  JobSpec gpu_job = Job(1);
  gpu_job.device = DeviceKind::kCuda;
  Submit(gpu_job);
  EXPECT_TRUE(Schedule().dispatches.empty());
  Register(Agent("gpu", 1, DeviceKind::kCuda, 24 * kGiB));
  EXPECT_EQ(AgentOf(Schedule(), 1), "gpu");
}

TEST_F(MatchingTest, DeviceMemoryMustSufficeAndBestFitWins) {
  Register(Agent("small", 1, DeviceKind::kCuda, 8 * kGiB));
  Register(Agent("big", 1, DeviceKind::kCuda, 80 * kGiB));
  Register(Agent("mid", 1, DeviceKind::kCuda, 24 * kGiB));
  JobSpec needs16 = Job(1);
  needs16.device = DeviceKind::kCuda;
  needs16.min_device_memory_bytes = 16 * kGiB;
  Submit(needs16);
  EXPECT_EQ(AgentOf(Schedule(), 1), "mid");  // smallest card that fits
  JobSpec needs40 = Job(2);
  needs40.device = DeviceKind::kCuda;
  needs40.min_device_memory_bytes = 40 * kGiB;
  Submit(needs40);
  EXPECT_EQ(AgentOf(Schedule(), 2), "big");
  JobSpec needs100 = Job(3);
  needs100.min_device_memory_bytes = 100 * kGiB;
  Submit(needs100);
  EXPECT_TRUE(Schedule().dispatches.empty());
  EXPECT_EQ(StateOf(3), JobState::kQueued);
}

TEST_F(MatchingTest, AnyDeviceTriesCpuFirst) {
  Register(Agent("gpu", 1, DeviceKind::kCuda, 24 * kGiB));
  Register(Agent("cpu", 1, DeviceKind::kCpu, 4 * kGiB));
  Submit(Job(1));
  EXPECT_EQ(AgentOf(Schedule(), 1), "cpu");
  Submit(Job(2));
  EXPECT_EQ(AgentOf(Schedule(), 2), "gpu");  // falls back to a GPU when no CPU is free
}

TEST_F(MatchingTest, AgentsOnlyRunTheKindsTheyAnnounce) {
  AgentSpec scorer = Agent("scorer", 2);
  scorer.job_kinds = {JobKind::kScore};
  Register(scorer);
  JobSpec train = Job(1);
  train.kind = JobKind::kTrain;
  JobSpec score = Job(2);
  score.kind = JobKind::kScore;
  Submit({train, score});
  testing::Out out = Schedule();
  EXPECT_EQ(out.DispatchedJobs(), std::vector<JobId>{2});
  EXPECT_EQ(StateOf(1), JobState::kQueued);
}

TEST_F(MatchingTest, PrefersAgentsCachingTheModels) {
  Register(Agent("cold", 1));
  AgentSpec warm = Agent("warm", 1);
  warm.cached_models = {"ckpt", "lora"};
  Register(warm);
  AgentSpec half = Agent("half", 1);
  half.cached_models = {"ckpt"};
  Register(half);
  JobSpec job = Job(1);
  job.required_models = {"lora", "ckpt"};
  Submit(job);
  EXPECT_EQ(AgentOf(Schedule(), 1), "warm");
}

TEST_F(MatchingTest, FallsBackToColdAgentsWhenWarmOnesAreBusy) {
  AgentSpec warm = Agent("warm", 1);
  warm.cached_models = {"ckpt"};
  Register(warm);
  Register(Agent("cold", 1));
  JobSpec a = Job(1);
  a.required_models = {"ckpt"};
  JobSpec b = Job(2);
  b.required_models = {"ckpt"};
  Submit({a, b});
  testing::Out out = Schedule();
  EXPECT_EQ(AgentOf(out, 1), "warm");
  EXPECT_EQ(AgentOf(out, 2), "cold");
  // "cold" fetched the model to run job 2: it is preferred for the next one.
  ASSERT_EQ(Succeed(*out.DispatchOf(2)).verdict, ResultVerdict::kAccepted);
  Register(Agent("fresh", 1));
  JobSpec c = Job(3);
  c.required_models = {"ckpt"};
  Submit(c);
  EXPECT_EQ(AgentOf(Schedule(), 3), "cold");
}

TEST_F(MatchingTest, AgentThatCannotFetchOnlyGetsJobsWithCachedModels) {
  AgentSpec offline = Agent("offline", 2);
  offline.can_fetch_models = false;
  offline.cached_models = {"ckpt"};
  Register(offline);
  JobSpec needs_lora = Job(1);
  needs_lora.required_models = {"ckpt", "lora"};
  JobSpec needs_ckpt = Job(2);
  needs_ckpt.required_models = {"ckpt"};
  Submit({needs_lora, needs_ckpt});
  testing::Out out = Schedule();
  EXPECT_EQ(out.DispatchedJobs(), std::vector<JobId>{2});
  ASSERT_TRUE(s().UpdateCachedModels("offline", {"ckpt", "lora"}).ok());
  EXPECT_EQ(Schedule().DispatchedJobs(), std::vector<JobId>{1});
}

TEST_F(MatchingTest, DrainingAgentGetsNoNewWorkButKeepsItsLease) {
  Register(Agent("a", 2));
  Submit(Job(1));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  ASSERT_TRUE(s().SetDraining("a", true).ok());
  Submit(Job(2));
  EXPECT_TRUE(Schedule().dispatches.empty());
  EXPECT_EQ(Succeed(out.dispatches[0]).verdict, ResultVerdict::kAccepted);
  ASSERT_TRUE(s().SetDraining("a", false).ok());
  EXPECT_EQ(Schedule().DispatchedJobs(), std::vector<JobId>{2});
}

TEST_F(MatchingTest, SlotsBoundConcurrentJobsPerAgent) {
  Register(Agent("a", 2));
  Submit({Job(1), Job(2), Job(3)});
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 2u);
  EXPECT_NE(out.dispatches[0].placements[0].slot, out.dispatches[1].placements[0].slot);
  EXPECT_TRUE(Schedule().dispatches.empty());
  ASSERT_EQ(Succeed(out.dispatches[0]).verdict, ResultVerdict::kAccepted);
  testing::Out next = Schedule();
  ASSERT_EQ(next.DispatchedJobs(), std::vector<JobId>{3});
  EXPECT_EQ(next.dispatches[0].placements[0].slot, out.dispatches[0].placements[0].slot);
}

TEST_F(MatchingTest, BusyTimeCountsSlotMilliseconds) {
  Register(Agent("a", 2));
  Submit({Job(1), Job(2)});
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 2u);
  clock_.Advance(500);
  ASSERT_EQ(Succeed(out.dispatches[0]).verdict, ResultVerdict::kAccepted);
  clock_.Advance(250);
  auto busy = s().AgentBusyMs("a");
  ASSERT_TRUE(busy.ok());
  EXPECT_EQ(*busy, 2 * 500 + 250);
  auto info = s().GetAgent("a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->busy_slots, 1);
  EXPECT_EQ(info->slots, 2);
  EXPECT_EQ(info->leases, (std::vector<LeaseRef>{{2, 1}}));
}

}  // namespace
}  // namespace farm::scheduler
