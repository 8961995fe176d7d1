// The event loop end to end on the in-process link: register -> offer -> result -> ack,
// persistence before sending, stale and duplicate results, unreachable agents.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override { farm_.Open(); }
  TempDir dir_;
  Farm farm_{dir_.path()};
};

TEST_F(LoopTest, RegisterOfferResultAckStoresOnce) {
  const SubmitResult submitted = farm_.Submit(2);
  ASSERT_EQ(submitted.jobs_created, 2);
  auto jobs = farm_.store().ListJobs({});
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  for (const auto& job : *jobs) {
    EXPECT_EQ(job.kind, store::JobKind::kSynthetic);  // recorded as a stand-in
    EXPECT_NE(job.params_json.find("stand_in_for"), std::string::npos);
  }

  auto agent = farm_.Join("a1");
  ASSERT_TRUE(agent);
  auto offer = farm_.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  const v1::JobOffer& job_offer = offer->job_offer();
  EXPECT_EQ(job_offer.kind(), v1::JOB_KIND_SYNTHETIC);
  auto params = nlohmann::json::parse(job_offer.params_json());
  EXPECT_EQ(params["seed"].get<std::int64_t>(),
            static_cast<std::int64_t>(job_offer.lease().job_id()));
  EXPECT_EQ(params["cpu_ms"].get<int>(), 5);
  EXPECT_FALSE(params.contains("stand_in_for"));
  // The lease was on disk before the offer left.
  auto open = farm_.store().ListOpenAttempts();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ(open->front().job_id, static_cast<std::int64_t>(job_offer.lease().job_id()));
  EXPECT_EQ(open->front().agent_id, "a1");

  const TestArtifact output{"output", "synthetic bytes of job one"};
  farm_.Report(*agent, job_offer.lease(), v1::RESULT_STATUS_SUCCEEDED, {output});
  auto ack = farm_.Await(*agent, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->result_ack().accepted());
  const auto job_id = static_cast<std::int64_t>(job_offer.lease().job_id());
  auto job = farm_.store().GetJob(job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, store::JobState::kSucceeded);
  EXPECT_EQ(CountAttempts(farm_.store(), job_id, store::AttemptOutcome::kSucceeded), 1);
  const std::string sha = Sha256Hex(output.bytes);
  auto artifact = farm_.store().GetArtifactBySha256(sha);
  ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
  EXPECT_EQ(artifact->path, sha.substr(0, 2) + "/" + sha.substr(2, 2) + "/" + sha);
  EXPECT_TRUE(std::filesystem::exists(farm_.artifact_root() / artifact->path));

  // The second job goes to the now free agent; finishing it finishes the sweep.
  auto second = farm_.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second->job_offer().lease().job_id(), job_offer.lease().job_id());
  farm_.Report(*agent, second->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
               {{"output", "other bytes"}});
  ASSERT_TRUE(farm_.Await(*agent, v1::Envelope::kResultAck).has_value());
  auto sweep = farm_.store().GetSweep(submitted.sweep_id);
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->state, store::SweepState::kSucceeded);
  EXPECT_EQ(farm_.coordinator().counters().jobs_succeeded, 2u);
}

TEST_F(LoopTest, StaleAndDuplicateResultsAreAckedAndIgnored) {
  farm_.Submit(1);
  auto agent = farm_.Join("a1");
  auto other = farm_.Join("a2");
  auto offer = farm_.Await(*agent, v1::Envelope::kJobOffer, 5);
  v1::LeaseRef lease;
  std::unique_ptr<transport::FakeAgentEnd>* holder = &agent;
  std::unique_ptr<transport::FakeAgentEnd>* bystander = &other;
  if (!offer) {  // the scheduler may have picked the other agent
    offer = farm_.Await(*other, v1::Envelope::kJobOffer);
    std::swap(holder, bystander);
  }
  ASSERT_TRUE(offer.has_value());
  lease = offer->job_offer().lease();
  const auto job_id = static_cast<std::int64_t>(lease.job_id());

  const TestArtifact output{"output", "the one result"};
  farm_.Report(**holder, lease, v1::RESULT_STATUS_SUCCEEDED, {output});
  auto ack = farm_.Await(**holder, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack && ack->result_ack().accepted());

  // The same result again (the agent missed the ack): acknowledged, stored once.
  farm_.Report(**holder, lease, v1::RESULT_STATUS_SUCCEEDED, {output});
  auto duplicate = farm_.Await(**holder, v1::Envelope::kResultAck);
  ASSERT_TRUE(duplicate.has_value());
  EXPECT_TRUE(duplicate->result_ack().accepted());  // its work is in (scheduler.h)

  // A result from an agent that never held the lease, and from a made-up attempt.
  farm_.Report(**bystander, lease, v1::RESULT_STATUS_SUCCEEDED, {{"output", "forged"}});
  auto stale = farm_.Await(**bystander, v1::Envelope::kResultAck);
  ASSERT_TRUE(stale.has_value());
  EXPECT_FALSE(stale->result_ack().accepted());
  v1::LeaseRef old = lease;
  old.set_attempt(7);
  farm_.Report(**holder, old, v1::RESULT_STATUS_FAILED, {});
  auto stale_attempt = farm_.Await(**holder, v1::Envelope::kResultAck);
  ASSERT_TRUE(stale_attempt.has_value());
  EXPECT_FALSE(stale_attempt->result_ack().accepted());

  EXPECT_EQ(CountAttempts(farm_.store(), job_id, store::AttemptOutcome::kSucceeded), 1);
  auto attempts = farm_.store().ListAttempts(job_id);
  ASSERT_TRUE(attempts.ok());
  EXPECT_EQ(attempts->size(), 1u);
  EXPECT_FALSE(farm_.store().GetArtifactBySha256(Sha256Hex("forged")).ok());
  EXPECT_EQ(farm_.coordinator().counters().results_accepted, 1u);
  EXPECT_EQ(farm_.coordinator().counters().results_ignored, 3u);
  EXPECT_EQ(CountFiles(farm_.artifact_root()), 1);  // one stored file, no temp leftovers
}

TEST_F(LoopTest, UnreachableAgentLeaseIsRequeued) {
  farm_.Submit(1);
  auto agent = farm_.Join("a1");
  auto offer = farm_.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  const auto job_id = static_cast<std::int64_t>(offer->job_offer().lease().job_id());
  agent->Disconnect();
  // The next heartbeat to it fails: its lease is ended and the job queued again.
  farm_.Pump(5, farm_.coordinator().scheduler().options().heartbeat_interval_ms);
  auto job = farm_.store().GetJob(job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, store::JobState::kQueued);
  EXPECT_EQ(CountAttempts(farm_.store(), job_id, store::AttemptOutcome::kExpired), 1);
  auto open = farm_.store().ListOpenAttempts();
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty());
  // A new agent gets attempt 2.
  auto fresh = farm_.Join("a2");
  auto retry = farm_.Await(*fresh, v1::Envelope::kJobOffer);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->job_offer().lease().attempt(), 2u);
}

TEST_F(LoopTest, CancelOfALeasedJobReachesTheAgentAndIsRecorded) {
  const SubmitResult submitted = farm_.Submit(1);
  auto agent = farm_.Join("a1");
  auto offer = farm_.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  const auto lease = offer->job_offer().lease();
  const auto job_id = static_cast<std::int64_t>(lease.job_id());

  ASSERT_TRUE(farm_.coordinator().CancelSweep(submitted.sweep_id, "test").ok());
  auto cancel = farm_.Await(*agent, v1::Envelope::kCancel);
  ASSERT_TRUE(cancel.has_value());
  EXPECT_EQ(cancel->cancel().lease().job_id(), lease.job_id());
  auto job = farm_.store().GetJob(job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, store::JobState::kCancelled);

  farm_.Report(*agent, lease, v1::RESULT_STATUS_CANCELLED, {});
  ASSERT_TRUE(farm_.Await(*agent, v1::Envelope::kResultAck).has_value());
  EXPECT_EQ(CountAttempts(farm_.store(), job_id, store::AttemptOutcome::kCancelled), 1);
  job = farm_.store().GetJob(job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, store::JobState::kCancelled);
  auto sweep = farm_.store().GetSweep(submitted.sweep_id);
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->state, store::SweepState::kCancelled);
  auto open = farm_.store().ListOpenAttempts();
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty());
}

TEST_F(LoopTest, FailedResultExcludesTheAgentAndRequeues) {
  farm_.Submit(1);
  auto agent = farm_.Join("a1");
  auto offer = farm_.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  const auto job_id = static_cast<std::int64_t>(offer->job_offer().lease().job_id());
  farm_.Report(*agent, offer->job_offer().lease(), v1::RESULT_STATUS_FAILED, {});
  auto ack = farm_.Await(*agent, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack && ack->result_ack().accepted());
  EXPECT_EQ(CountAttempts(farm_.store(), job_id, store::AttemptOutcome::kFailed), 1);
  auto job = farm_.store().GetJob(job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, store::JobState::kQueued);
  EXPECT_EQ(job->last_error, "synthetic failure");
  EXPECT_FALSE(farm_.Await(*agent, v1::Envelope::kJobOffer, 10).has_value());  // not again
  auto other = farm_.Join("a2");
  auto retry = farm_.Await(*other, v1::Envelope::kJobOffer);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->job_offer().lease().attempt(), 2u);
}

TEST_F(LoopTest, BadRegistrationsAndUnknownAgentsGetErrors) {
  auto end = farm_.link().Connect("x");
  v1::Envelope reg;
  reg.mutable_register_()->set_agent_id("x");
  reg.mutable_register_()->set_protocol_version(kProtocolVersion + 1);
  ASSERT_TRUE(end->Send(reg).ok());
  auto error = farm_.Await(*end, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_PROTOCOL_MISMATCH);

  reg.mutable_register_()->set_protocol_version(kProtocolVersion);
  reg.mutable_register_()->set_agent_id("someone-else");
  ASSERT_TRUE(end->Send(reg).ok());
  error = farm_.Await(*end, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_MALFORMED);

  v1::Envelope beat;
  beat.mutable_heartbeat()->set_sent_unix_ms(1);
  ASSERT_TRUE(end->Send(beat).ok());
  error = farm_.Await(*end, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_NOT_REGISTERED);
  EXPECT_FALSE(farm_.store().GetAgent("x").ok());
  EXPECT_FALSE(farm_.store().GetAgent("someone-else").ok());
}

}  // namespace
}  // namespace farm::farmd::testing
