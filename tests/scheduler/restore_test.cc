// Recovery after a coordinator crash: Restore() from persisted state.
#include <gtest/gtest.h>

#include "scheduler_test_util.h"

namespace farm::scheduler {
namespace {

using testing::Agent;
using testing::Job;
using testing::Render;

RestoredJob Restored(JobSpec spec, JobState state) {
  RestoredJob job;
  job.spec = std::move(spec);
  job.state = state;
  return job;
}

class RestoreTest : public testing::SchedulerTest {
 protected:
  RestoredJob Leased(JobId id, const std::string& agent, int attempt, TimeMs deadline) {
    RestoredJob job = Restored(Job(id), JobState::kLeased);
    job.attempt_count = attempt;
    job.lease = RestoredLease{attempt, {agent}, clock_.NowMs() - 1000, deadline};
    return job;
  }
};

TEST_F(RestoreTest, RebuildsStatesAndResumesLeasesOfReconnectingAgents) {
  const TimeMs now = clock_.NowMs();
  RestoreInput input;
  input.jobs.push_back(Restored(Job(1), JobState::kSucceeded));
  input.jobs.push_back(Leased(2, "a", 3, now + 20'000));
  input.jobs.push_back(Restored(Job(3), JobState::kQueued));
  RestoredJob child = Restored(Job(4), JobState::kQueued);
  child.spec.deps = {2};
  input.jobs.push_back(child);
  ASSERT_TRUE(s().Restore(input).ok());
  EXPECT_TRUE(Take().all.empty());
  EXPECT_EQ(StateOf(1), JobState::kSucceeded);
  EXPECT_EQ(StateOf(2), JobState::kLeased);
  EXPECT_EQ(StateOf(3), JobState::kQueued);
  EXPECT_EQ(StateOf(4), JobState::kBlocked);
  EXPECT_EQ(s().GetAgent("a")->state, AgentState::kAwaitingReconnect);
  EXPECT_EQ(s().ActiveLeases(), 1u);

  Register(Agent("a", 1));  // within the grace period: it resumes lease (2, 3)
  EXPECT_EQ(s().GetAgent("a")->busy_slots, 1);
  EXPECT_TRUE(Schedule().dispatches.empty());  // its only slot runs job 2
  EXPECT_EQ(Report("a", LeaseRef{2, 3}).verdict, ResultVerdict::kAccepted);
  testing::Out out = Schedule();
  EXPECT_EQ(out.DispatchedJobs(), (std::vector<JobId>{3}));
  Succeed(out.dispatches.at(0));
  EXPECT_EQ(Schedule().DispatchedJobs(), (std::vector<JobId>{4}));
}

TEST_F(RestoreTest, MoreUncountedAttemptsThanAttemptsIsRefused) {
  RestoredJob job = Restored(Job(1), JobState::kQueued);
  job.attempt_count = 2;
  job.uncounted_attempts = 3;
  RestoreInput input;
  input.jobs.push_back(job);
  Status status = s().Restore(input);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("uncounted_attempts"), std::string::npos) << status.message();
}

TEST_F(RestoreTest, LeasePastItsDeadlineIsRequeuedAtOnce) {
  RestoreInput input;
  input.jobs.push_back(Leased(1, "a", 2, clock_.NowMs() - 1));
  ASSERT_TRUE(s().Restore(input).ok());
  testing::Out out = Take();
  ASSERT_EQ(out.ended.size(), 1u);
  EXPECT_EQ(out.ended[0].outcome, AttemptOutcome::kExpired);
  EXPECT_EQ(out.ended[0].attempt, 2);
  ASSERT_EQ(out.requeues.size(), 1u);
  Register(Agent("b"));
  out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(out.dispatches[0].attempt, 3);
}

TEST_F(RestoreTest, AgentThatDoesNotComeBackLosesItsLeasesAfterTheGrace) {
  RestoreInput input;
  input.jobs.push_back(Leased(1, "gone", 1, clock_.NowMs() + 60'000));
  ASSERT_TRUE(s().Restore(input).ok());
  Register(Agent("b"));
  clock_.Advance(s().options().restore_grace_ms - 1);
  ASSERT_TRUE(s().Heartbeat("b").ok());
  EXPECT_TRUE(Tick().requeues.empty());
  clock_.Advance(1);
  ASSERT_TRUE(s().Heartbeat("b").ok());
  testing::Out out = Tick();
  ASSERT_EQ(out.requeues.size(), 1u);
  EXPECT_EQ(s().GetAgent("gone")->state, AgentState::kLost);
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(out.dispatches[0].placements[0].agent, "b");
  EXPECT_EQ(out.dispatches[0].attempt, 2);
}

TEST_F(RestoreTest, FailedAttemptsKeepExcludingTheirAgents) {
  RestoredJob job = Restored(Job(1), JobState::kQueued);
  job.attempt_count = 1;
  AttemptRecord failed;
  failed.attempt = 1;
  failed.agents = {"a"};
  failed.outcome = AttemptOutcome::kFailed;
  failed.error = "segfault";
  job.attempts.push_back(failed);
  RestoreInput input;
  input.jobs.push_back(job);
  ASSERT_TRUE(s().Restore(input).ok());
  Register(Agent("a"));
  EXPECT_TRUE(Schedule().dispatches.empty());
  Register(Agent("b"));
  testing::Out out = Schedule();
  ASSERT_EQ(out.dispatches.size(), 1u);
  EXPECT_EQ(out.dispatches[0].placements[0].agent, "b");
  EXPECT_EQ(out.dispatches[0].attempt, 2);
}

TEST_F(RestoreTest, RepairsChildrenOfFailedParentsAndLinksKnownResults) {
  RestoreInput input;
  input.jobs.push_back(Restored(Job(1), JobState::kFailed));
  RestoredJob orphan = Restored(Job(2), JobState::kQueued);
  orphan.spec.deps = {1};
  input.jobs.push_back(orphan);
  input.jobs.push_back(Restored(Render(3, "h"), JobState::kQueued));
  input.known_results.push_back(KnownResult{"h", 77});
  ASSERT_TRUE(s().Restore(input).ok());
  testing::Out out = Take();
  ASSERT_NE(out.FinishedOf(2), nullptr);
  EXPECT_EQ(out.FinishedOf(2)->state, JobState::kSkipped);
  ASSERT_NE(out.FinishedOf(3), nullptr);
  EXPECT_EQ(out.FinishedOf(3)->linked_to, std::optional<JobId>(77));
}

TEST_F(RestoreTest, IncompleteGangLeaseIsRequeued) {
  RestoredJob gang = Leased(1, "a", 1, clock_.NowMs() + 60'000);
  gang.spec.gang_size = 2;
  RestoreInput input;
  input.jobs.push_back(gang);
  ASSERT_TRUE(s().Restore(input).ok());
  testing::Out out = Take();
  ASSERT_EQ(out.requeues.size(), 1u);
  EXPECT_NE(out.requeues[0].reason.find("1 of 2"), std::string::npos);
  EXPECT_EQ(s().ActiveLeases(), 0u);
}

TEST_F(RestoreTest, RefusesInconsistentInputAndAUsedScheduler) {
  RestoreInput no_lease;
  no_lease.jobs.push_back(Restored(Job(1), JobState::kLeased));
  EXPECT_EQ(s().Restore(no_lease).code(), StatusCode::kInvalidArgument);
  RestoreInput missing_parent;
  RestoredJob child = Restored(Job(2), JobState::kQueued);
  child.spec.deps = {1};
  missing_parent.jobs.push_back(child);
  EXPECT_EQ(s().Restore(missing_parent).code(), StatusCode::kInvalidArgument);
  RestoreInput twice;
  twice.jobs.push_back(Restored(Job(1), JobState::kQueued));
  twice.jobs.push_back(Restored(Job(1), JobState::kQueued));
  EXPECT_EQ(s().Restore(twice).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s().CountsByState().total(), 0u);  // nothing half-restored

  Submit(Job(5));
  RestoreInput fine;
  fine.jobs.push_back(Restored(Job(1), JobState::kQueued));
  EXPECT_EQ(s().Restore(fine).code(), StatusCode::kFailedPrecondition);
}

TEST_F(RestoreTest, ResultsAcceptedBeforeTheCrashStayDuplicates) {
  RestoredJob done = Restored(Job(1), JobState::kSucceeded);
  done.attempt_count = 1;
  AttemptRecord ok;
  ok.attempt = 1;
  ok.agents = {"a"};
  ok.outcome = AttemptOutcome::kSucceeded;
  ok.result_accepted = true;
  ok.reported_by = "a";
  done.attempts.push_back(ok);
  RestoreInput input;
  input.jobs.push_back(done);
  ASSERT_TRUE(s().Restore(input).ok());
  Register(Agent("a"));
  EXPECT_EQ(Report("a", LeaseRef{1, 1}).verdict, ResultVerdict::kDuplicate);
}

TEST_F(RestoreTest, CancelDrainingAtTheCrashIsDeliveredOnReconnect) {
  RestoredJob job = Leased(1, "a", 1, clock_.NowMs() + 60'000);
  job.state = JobState::kCancelled;
  job.reason = "user";
  RestoreInput input;
  input.jobs.push_back(job);
  ASSERT_TRUE(s().Restore(input).ok());
  EXPECT_EQ(StateOf(1), JobState::kCancelled);
  EXPECT_EQ(s().ActiveLeases(), 1u);
  // Progress before the agent registered again is the holder's: no cancel yet.
  auto progress = s().ReportProgress("a", LeaseRef{1, 1});
  ASSERT_TRUE(progress.ok());
  EXPECT_TRUE(*progress);
  EXPECT_TRUE(Take().cancels.empty());
  Register(Agent("a"));
  testing::Out out = Take();
  ASSERT_EQ(out.cancels.size(), 1u);
  EXPECT_EQ(out.cancels[0].agent, "a");
  ResultAck ack = Report("a", LeaseRef{1, 1});
  EXPECT_EQ(ack.verdict, ResultVerdict::kAccepted);
  EXPECT_TRUE(ack.after_cancel);
  EXPECT_EQ(StateOf(1), JobState::kCancelled);
  EXPECT_EQ(s().ActiveLeases(), 0u);
}

TEST_F(RestoreTest, UnknownAgentHeartbeatMustRegister) {
  RestoreInput input;
  input.jobs.push_back(Leased(1, "a", 1, clock_.NowMs() + 60'000));
  ASSERT_TRUE(s().Restore(input).ok());
  EXPECT_EQ(s().Heartbeat("a").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s().Heartbeat("b").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace farm::scheduler
