// kill -9 and restart: the coordinator is dropped without any shutdown step and rebuilt
// from the same database; finished results stay exactly once and open leases resume.
#include <gtest/gtest.h>

#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

std::int64_t JobOf(const v1::Envelope& offer) {
  return static_cast<std::int64_t>(offer.job_offer().lease().job_id());
}

TEST(RecoveryTest, RestartKeepsFinishedResultsOnceAndResumesOpenLeases) {
  TempDir dir;
  Farm farm(dir.path());
  farm.Open();
  const SubmitResult submitted = farm.Submit(3);
  ASSERT_EQ(submitted.jobs_created, 3);
  auto agent = farm.Join("a1");

  auto first = farm.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(first.has_value());
  farm.Report(*agent, first->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
              {{"output", "result one"}});
  ASSERT_TRUE(farm.Await(*agent, v1::Envelope::kResultAck).has_value());
  auto second = farm.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(second.has_value());

  farm.Crash();  // the second job's lease is open in the database
  farm.Open();
  {
    auto restored = farm.coordinator().scheduler().GetJob(JobOf(*second));
    ASSERT_TRUE(restored.ok());
    EXPECT_EQ(restored->state, scheduler::JobState::kLeased);
    auto done = farm.coordinator().scheduler().GetJob(JobOf(*first));
    EXPECT_TRUE(!done.ok() || done->state == scheduler::JobState::kSucceeded);
  }

  // The agent reconnects (same id), registers again and delivers the open lease's result,
  // and re-sends the first result it may not have seen acknowledged.
  auto again = farm.Join("a1");
  farm.Report(*again, first->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
              {{"output", "result one"}});
  ASSERT_TRUE(farm.Await(*again, v1::Envelope::kResultAck).has_value());
  farm.Report(*again, second->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
              {{"output", "result two"}});
  auto ack = farm.Await(*again, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->result_ack().accepted());

  auto third = farm.Await(*again, v1::Envelope::kJobOffer);
  ASSERT_TRUE(third.has_value());
  EXPECT_NE(JobOf(*third), JobOf(*first));
  EXPECT_NE(JobOf(*third), JobOf(*second));
  farm.Report(*again, third->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
              {{"output", "result three"}});
  ASSERT_TRUE(farm.Await(*again, v1::Envelope::kResultAck).has_value());

  for (std::int64_t job : {JobOf(*first), JobOf(*second), JobOf(*third)}) {
    EXPECT_EQ(CountAttempts(farm.store(), job, store::AttemptOutcome::kSucceeded), 1) << job;
    auto row = farm.store().GetJob(job);
    ASSERT_TRUE(row.ok());
    EXPECT_EQ(row->state, store::JobState::kSucceeded);
  }
  for (const char* bytes : {"result one", "result two", "result three"}) {
    EXPECT_TRUE(farm.store().GetArtifactBySha256(Sha256Hex(bytes)).ok()) << bytes;
  }
  EXPECT_EQ(CountFiles(farm.artifact_root()), 3);
  auto sweep = farm.store().GetSweep(submitted.sweep_id);
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->state, store::SweepState::kSucceeded);
}

TEST(RecoveryTest, ExpiredLeaseIsRequeuedOnRestart) {
  TempDir dir;
  Farm farm(dir.path());
  farm.Open();
  farm.Submit(1);
  auto agent = farm.Join("a1");
  auto offer = farm.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  const auto lease = offer->job_offer().lease();

  farm.Crash();
  farm.clock().Advance(scheduler::SchedulerOptions{}.lease_timeout_ms + 1);
  farm.Open();  // the lease ran out while farmd was down: attempt 1 closed, job queued
  const auto job = static_cast<std::int64_t>(lease.job_id());
  EXPECT_EQ(CountAttempts(farm.store(), job, store::AttemptOutcome::kExpired), 1);
  auto row = farm.store().GetJob(job);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->state, store::JobState::kQueued);

  // The late result of attempt 1 is acknowledged as stale and not stored.
  auto again = farm.Join("a1");
  farm.Report(*again, lease, v1::RESULT_STATUS_SUCCEEDED, {{"output", "late"}});
  auto ack = farm.Await(*again, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_FALSE(ack->result_ack().accepted());
  EXPECT_FALSE(farm.store().GetArtifactBySha256(Sha256Hex("late")).ok());
  // Attempt 2 goes out and completes.
  auto retry = farm.Await(*again, v1::Envelope::kJobOffer);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->job_offer().lease().attempt(), 2u);
}

}  // namespace
}  // namespace farm::farmd::testing
