// Queue order (priority, then submission), submission validation and queue metrics.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;

class QueueOrderTest : public testing::SchedulerTest {};

TEST_F(QueueOrderTest, HigherPriorityFirstThenSubmissionOrder) {
  Submit({Job(10, 0), Job(11, 5), Job(12, 0), Job(13, 5), Job(14, -1), Job(15, 9)});
  Register(Agent("a", 1));
  std::vector<JobId> order;
  for (int i = 0; i < 6; ++i) {
    testing::Out out = Schedule();
    ASSERT_EQ(out.dispatches.size(), 1u) << "round " << i;
    order.push_back(out.dispatches[0].job);
    EXPECT_EQ(Succeed(out.dispatches[0]).verdict, ResultVerdict::kAccepted);
  }
  EXPECT_EQ(order, (std::vector<JobId>{15, 11, 13, 10, 12, 14}));
}

TEST_F(QueueOrderTest, OneRoundFillsEverySlotInOrder) {
  std::vector<JobSpec> jobs;
  for (JobId id = 1; id <= 10; ++id) jobs.push_back(Job(id, id % 2 == 0 ? 1 : 0));
  Submit(jobs);
  Register(Agent("a", 3));
  Register(Agent("b", 2));
  testing::Out out = Schedule();
  EXPECT_EQ(out.DispatchedJobs(), (std::vector<JobId>{2, 4, 6, 8, 10}));
  EXPECT_EQ(s().QueueDepth(), 5u);
  EXPECT_EQ(s().ActiveLeases(), 5u);
  StateCounts counts = s().CountsByState();
  EXPECT_EQ(counts[JobState::kLeased], 5u);
  EXPECT_EQ(counts[JobState::kQueued], 5u);
  EXPECT_EQ(counts.total(), 10u);
}

TEST_F(QueueOrderTest, DispatchCarriesLeaseAndDeadline) {
  Register(Agent("a", 2));
  Submit(Job(7));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  const Dispatch& d = out.dispatches[0];
  EXPECT_EQ(d.job, 7);
  EXPECT_EQ(d.attempt, 1);
  ASSERT_EQ(d.placements.size(), 1u);
  EXPECT_EQ(d.placements[0].agent, "a");
  EXPECT_EQ(d.placements[0].rank, 0);
  EXPECT_EQ(d.leased_at_ms, clock_.NowMs());
  EXPECT_EQ(d.deadline_ms, clock_.NowMs() + s().options().lease_timeout_ms);
  JobInfo info = InfoOf(7);
  EXPECT_EQ(info.state, JobState::kLeased);
  ASSERT_TRUE(info.lease.has_value());
  EXPECT_EQ(*info.lease, (LeaseRef{7, 1}));
}

TEST_F(QueueOrderTest, NothingHappensWithoutAgents) {
  Submit({Job(1), Job(2)});
  EXPECT_TRUE(Schedule().dispatches.empty());
  EXPECT_EQ(s().QueueDepth(), 2u);
}

TEST_F(QueueOrderTest, SubmissionIsAllOrNothing) {
  Submit(Job(1));
  Status dup = s().SubmitJobs({Job(2), Job(1)});
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  JobSpec orphan = Job(3);
  orphan.deps = {99};
  Status unknown = s().SubmitJobs({Job(4), orphan});
  EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("99"), std::string::npos);
  EXPECT_EQ(s().GetJob(2).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s().GetJob(4).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s().CountsByState().total(), 1u);
}

TEST_F(QueueOrderTest, RejectsBadSpecs) {
  JobSpec zero = Job(0);
  EXPECT_EQ(s().SubmitJob(zero).code(), StatusCode::kInvalidArgument);
  JobSpec gang = Job(1);
  gang.gang_size = 0;
  EXPECT_EQ(s().SubmitJob(gang).code(), StatusCode::kInvalidArgument);
  JobSpec self = Job(2);
  self.deps = {2};
  EXPECT_EQ(s().SubmitJob(self).code(), StatusCode::kInvalidArgument);
  JobSpec render = Job(3);
  render.kind = JobKind::kRender;  // no param_hash
  EXPECT_EQ(s().SubmitJob(render).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s().RegisterAgent(Agent("", 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s().RegisterAgent(Agent("x", 0)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s().CountsByState().total(), 0u);
}

TEST_F(QueueOrderTest, UnknownIdsAreNotFound) {
  EXPECT_EQ(s().CancelJob(5, "").code(), StatusCode::kNotFound);
  EXPECT_EQ(s().CancelSweep(5, "").code(), StatusCode::kNotFound);
  EXPECT_EQ(s().Heartbeat("ghost").code(), StatusCode::kNotFound);
  EXPECT_EQ(s().ReportProgress("ghost", {1, 1}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s().ReportResult("ghost", {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s().AgentBusyMs("ghost").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s().GetAgent("ghost").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s().DeregisterAgent("ghost", "").code(), StatusCode::kNotFound);
  Register(Agent("a"));
  EXPECT_EQ(
      s().ReportResult("a", ResultReport{{42, 1}, ResultKind::kSucceeded, ""}).status().code(),
      StatusCode::kNotFound);
  Submit(Job(1));
  EXPECT_EQ(s().ReportResult("a", ResultReport{{1, 0}, ResultKind::kSucceeded, ""}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace farm::scheduler
