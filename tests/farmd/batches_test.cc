// Batched messages (Register.batches, Welcome.batches): offers per agent in one
// JobOfferBatch for its free slots only, results in one JobResultBatch with inline
// artifacts, acks in one ResultAckBatch after the commit; stale and fenced results inside
// a batch, and a lost ack batch (results resent, deduplicated).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

class BatchesTest : public ::testing::Test {
 protected:
  void SetUp() override { farm_.Open(); }

  // Registers `id` as an agent that takes batches; the Welcome must say farmd does too.
  std::unique_ptr<transport::FakeAgentEnd> JoinBatched(const std::string& id, int slots,
                                                       int prefetch = 0) {
    auto end = farm_.link().Connect(id);
    v1::Envelope reg;
    reg.mutable_register_()->set_agent_id(id);
    reg.mutable_register_()->set_protocol_version(kProtocolVersion);
    reg.mutable_register_()->set_hostname("host-" + id);
    reg.mutable_register_()->set_agent_version("test");
    reg.mutable_register_()->set_batches(true);
    reg.mutable_register_()->mutable_capabilities()->set_slots(static_cast<std::uint32_t>(slots));
    reg.mutable_register_()->mutable_capabilities()->set_prefetch(
        static_cast<std::uint32_t>(prefetch));
    EXPECT_TRUE(end->Send(reg).ok());
    auto welcome = farm_.Await(*end, v1::Envelope::kWelcome);
    EXPECT_TRUE(welcome && welcome->welcome().batches());
    return end;
  }

  // A succeeded result with `bytes` inline under the name "output" (`declared` replaces
  // the descriptor's digest, for a damaged transfer).
  static v1::JobResult Succeeded(const v1::LeaseRef& lease, const std::string& bytes,
                                 const std::string& declared = "") {
    v1::JobResult result;
    *result.mutable_lease() = lease;
    result.set_status(v1::RESULT_STATUS_SUCCEEDED);
    v1::ArtifactDescriptor* d = result.add_artifacts();
    d->set_name("output");
    d->set_sha256(declared.empty() ? Sha256Hex(bytes) : declared);
    d->set_size_bytes(bytes.size());
    v1::InlineArtifact* inline_artifact = result.add_inline_artifacts();
    inline_artifact->set_sha256(d->sha256());
    inline_artifact->set_data(bytes);
    return result;
  }

  std::vector<v1::JobOffer> AwaitOffers(transport::FakeAgentEnd& end, int max_pumps = 50) {
    auto batch = farm_.Await(end, v1::Envelope::kJobOfferBatch, max_pumps);
    if (!batch) return {};
    return {batch->job_offer_batch().offers().begin(), batch->job_offer_batch().offers().end()};
  }

  TempDir dir_;
  Farm farm_{dir_.path(), PatientOptions()};
};

TEST_F(BatchesTest, OffersOnlyForFreeSlotsInOneMessage) {
  farm_.Submit(10);
  auto agent = JoinBatched("a1", 3);
  const std::vector<v1::JobOffer> offers = AwaitOffers(*agent);
  ASSERT_EQ(offers.size(), 3u);  // one per slot, in one message
  std::set<std::uint64_t> jobs;
  for (const v1::JobOffer& offer : offers) {
    jobs.insert(offer.lease().job_id());
    EXPECT_EQ(offer.kind(), v1::JOB_KIND_SYNTHETIC);
    EXPECT_NE(offer.params_json().find("\"seed\":" + std::to_string(offer.lease().job_id())),
              std::string::npos);
  }
  EXPECT_EQ(jobs.size(), 3u);
  // Every lease was on disk before the batch left.
  EXPECT_EQ(farm_.store().ListOpenAttempts()->size(), 3u);
  // No slot is free: nothing more, batched or single.
  EXPECT_TRUE(AwaitOffers(*agent, 5).empty());
  EXPECT_FALSE(farm_.Await(*agent, v1::Envelope::kJobOffer, 1).has_value());

  // One result frees one slot: the next batch holds one offer.
  v1::Envelope results;
  *results.mutable_job_result_batch()->add_results() = Succeeded(offers[0].lease(), "bytes 0");
  ASSERT_TRUE(agent->Send(results).ok());
  auto acks = farm_.Await(*agent, v1::Envelope::kResultAckBatch);
  ASSERT_TRUE(acks.has_value());
  ASSERT_EQ(acks->result_ack_batch().acks_size(), 1);
  EXPECT_TRUE(acks->result_ack_batch().acks(0).accepted());
  EXPECT_EQ(AwaitOffers(*agent).size(), 1u);
  EXPECT_EQ(farm_.store().ListOpenAttempts()->size(), 3u);
}

TEST_F(BatchesTest, AnAgentsPrefetchAddsToTheLeasesItIsOffered) {
  farm_.Submit(10);
  auto agent = JoinBatched("a1", 2, 3);
  const std::vector<v1::JobOffer> offers = AwaitOffers(*agent);
  EXPECT_EQ(offers.size(), 5u);  // two slots and three queue places
  EXPECT_EQ(farm_.store().ListOpenAttempts()->size(), 5u);
  EXPECT_TRUE(AwaitOffers(*agent, 5).empty());
}

TEST_F(BatchesTest, ResultBatchPartlyStaleAndFenced) {
  farm_.Submit(3);
  auto agent = JoinBatched("a1", 3);
  const std::vector<v1::JobOffer> offers = AwaitOffers(*agent);
  ASSERT_EQ(offers.size(), 3u);
  const v1::LeaseRef good = offers[0].lease();
  const v1::LeaseRef damaged = offers[1].lease();
  v1::LeaseRef stale = offers[2].lease();
  stale.set_attempt(stale.attempt() + 5);  // not the lease farmd gave

  v1::Envelope results;
  v1::JobResultBatch* batch = results.mutable_job_result_batch();
  *batch->add_results() = Succeeded(good, "good bytes");
  // The inline bytes do not match the descriptor: the attempt fails and is retried.
  *batch->add_results() = Succeeded(damaged, "damaged bytes", Sha256Hex("what was sent"));
  *batch->add_results() = Succeeded(stale, "forged bytes");
  ASSERT_TRUE(agent->Send(results).ok());

  // The stale one is refused at once; the others are acked together after the commit.
  auto refused = farm_.Await(*agent, v1::Envelope::kResultAck);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result_ack().lease().job_id(), stale.job_id());
  EXPECT_FALSE(refused->result_ack().accepted());
  auto acks = farm_.Await(*agent, v1::Envelope::kResultAckBatch);
  ASSERT_TRUE(acks.has_value());
  std::set<std::uint64_t> acked;
  for (const v1::ResultAck& ack : acks->result_ack_batch().acks()) {
    EXPECT_TRUE(ack.accepted());
    acked.insert(ack.lease().job_id());
  }
  EXPECT_EQ(acked, (std::set<std::uint64_t>{good.job_id(), damaged.job_id()}));
  auto mismatch = farm_.Await(*agent, v1::Envelope::kError);
  ASSERT_TRUE(mismatch.has_value());
  EXPECT_EQ(mismatch->error().code(), v1::ERROR_CODE_ARTIFACT_MISMATCH);

  const auto good_id = static_cast<std::int64_t>(good.job_id());
  EXPECT_EQ(farm_.store().GetJob(good_id)->state, store::JobState::kSucceeded);
  EXPECT_EQ(CountAttempts(farm_.store(), good_id, store::AttemptOutcome::kSucceeded), 1);
  EXPECT_TRUE(farm_.store().GetArtifactBySha256(Sha256Hex("good bytes")).ok());
  auto outputs = farm_.store().ListJobArtifacts(good_id);
  ASSERT_TRUE(outputs.ok());
  ASSERT_EQ(outputs->size(), 1u);
  EXPECT_EQ((*outputs)[0].name, "output");

  const auto damaged_id = static_cast<std::int64_t>(damaged.job_id());
  EXPECT_EQ(CountAttempts(farm_.store(), damaged_id, store::AttemptOutcome::kFailed), 1);
  EXPECT_FALSE(farm_.store().GetArtifactBySha256(Sha256Hex("damaged bytes")).ok());
  EXPECT_FALSE(farm_.store().GetArtifactBySha256(Sha256Hex("what was sent")).ok());

  // The stale result changed nothing: that job's real lease is still open.
  const auto stale_id = static_cast<std::int64_t>(stale.job_id());
  EXPECT_EQ(farm_.store().GetJob(stale_id)->state, store::JobState::kLeased);
  EXPECT_FALSE(farm_.store().GetArtifactBySha256(Sha256Hex("forged bytes")).ok());
  EXPECT_EQ(farm_.coordinator().counters().results_accepted, 2u);
  EXPECT_EQ(farm_.coordinator().counters().results_ignored, 1u);
}

TEST_F(BatchesTest, MetricsAreStoredWithTheirAttemptOnly) {
  farm_.Submit(4);
  auto agent = JoinBatched("a1", 4);
  const std::vector<v1::JobOffer> offers = AwaitOffers(*agent);
  ASSERT_EQ(offers.size(), 4u);
  // Two with metrics (a NaN is left out: JSON has none), one without, and one stale report
  // whose metrics must not reach the job's real attempt.
  v1::JobResult with = Succeeded(offers[0].lease(), "with metrics");
  (*with.mutable_metrics())["seconds_total"] = 2.5;
  (*with.mutable_metrics())["faces_found"] = 1;
  (*with.mutable_metrics())["not_a_number"] = std::nan("");
  v1::JobResult failed;
  *failed.mutable_lease() = offers[1].lease();
  failed.set_status(v1::RESULT_STATUS_FAILED);
  failed.set_error("out of memory");
  (*failed.mutable_metrics())["peak_memory_bytes"] = 1024;
  v1::JobResult without = Succeeded(offers[2].lease(), "without metrics");
  v1::LeaseRef stale_lease = offers[3].lease();
  stale_lease.set_attempt(stale_lease.attempt() + 1);
  v1::JobResult stale = Succeeded(stale_lease, "stale");
  (*stale.mutable_metrics())["seconds_total"] = 99;
  v1::Envelope results;
  for (const v1::JobResult* r : {&with, &failed, &without, &stale}) {
    *results.mutable_job_result_batch()->add_results() = *r;
  }
  ASSERT_TRUE(agent->Send(results).ok());
  auto acks = farm_.Await(*agent, v1::Envelope::kResultAckBatch);
  ASSERT_TRUE(acks.has_value());
  EXPECT_EQ(acks->result_ack_batch().acks_size(), 3);

  auto metrics_of = [&](int i) {
    auto attempts =
        farm_.store().ListAttempts(static_cast<std::int64_t>(offers[i].lease().job_id()));
    EXPECT_TRUE(attempts.ok());
    EXPECT_EQ(attempts.ok() ? attempts->size() : 0u, 1u);
    return attempts.ok() && !attempts->empty() ? (*attempts)[0].metrics_json : "?";
  };
  EXPECT_EQ(metrics_of(0), R"({"faces_found":1.0,"seconds_total":2.5})");
  EXPECT_EQ(metrics_of(1), R"({"peak_memory_bytes":1024.0})");
  EXPECT_EQ(metrics_of(2), "");
  EXPECT_EQ(metrics_of(3), "");  // the stale report's metrics went nowhere
  const auto failed_id = static_cast<std::int64_t>(offers[1].lease().job_id());
  EXPECT_EQ(CountAttempts(farm_.store(), failed_id, store::AttemptOutcome::kFailed), 1);
  EXPECT_EQ(farm_.store().GetJob(static_cast<std::int64_t>(offers[3].lease().job_id()))->state,
            store::JobState::kLeased);
}

TEST_F(BatchesTest, LostAckBatchResultsAreResentAndStoredOnce) {
  farm_.Submit(2);
  auto agent = JoinBatched("a1", 2);
  const std::vector<v1::JobOffer> offers = AwaitOffers(*agent);
  ASSERT_EQ(offers.size(), 2u);
  v1::Envelope results;
  for (int i = 0; i < 2; ++i) {
    *results.mutable_job_result_batch()->add_results() =
        Succeeded(offers[i].lease(), "output " + std::to_string(i));
  }
  ASSERT_TRUE(agent->Send(results).ok());
  auto first = farm_.Await(*agent, v1::Envelope::kResultAckBatch);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->result_ack_batch().acks_size(), 2);

  // The ack batch is lost on the way: the agent sends both results again.
  ASSERT_TRUE(agent->Send(results).ok());
  std::set<std::uint64_t> acked;
  for (int i = 0; i < 2; ++i) {
    auto repeat = farm_.Await(*agent, v1::Envelope::kResultAck);
    ASSERT_TRUE(repeat.has_value());
    EXPECT_TRUE(repeat->result_ack().accepted());  // its work is in
    acked.insert(repeat->result_ack().lease().job_id());
  }
  EXPECT_EQ(acked.size(), 2u);
  for (const v1::JobOffer& offer : offers) {
    const auto job = static_cast<std::int64_t>(offer.lease().job_id());
    EXPECT_EQ(farm_.store().GetJob(job)->state, store::JobState::kSucceeded);
    EXPECT_EQ(CountAttempts(farm_.store(), job, store::AttemptOutcome::kSucceeded), 1);
    EXPECT_EQ(farm_.store().ListAttempts(job)->size(), 1u);
  }
  EXPECT_EQ(farm_.coordinator().counters().results_accepted, 2u);
  EXPECT_EQ(farm_.coordinator().counters().results_ignored, 2u);
  EXPECT_EQ(farm_.coordinator().counters().jobs_succeeded, 2u);
  EXPECT_EQ(CountFiles(farm_.artifact_root()), 2);  // each output stored once
}

TEST_F(BatchesTest, ARefusedRowInTheBatchKeepsTheOthersAndTheJobState) {
  farm_.Submit(2);
  auto agent = JoinBatched("a1", 2);
  const std::vector<v1::JobOffer> offers = AwaitOffers(*agent);
  ASSERT_EQ(offers.size(), 2u);
  // Behind farmd's back the first lease's row is closed, so the multi-row end of both
  // attempts is refused: farmd writes them one by one, and the refused one's job still
  // gets its state.
  const auto closed = static_cast<std::int64_t>(offers[0].lease().job_id());
  ASSERT_TRUE(farm_.store()
                  .FinishAttempt(closed, static_cast<int>(offers[0].lease().attempt()),
                                 store::AttemptOutcome::kExpired, "closed outside farmd",
                                 store::JobState::kLeased)
                  .ok());
  v1::Envelope results;
  for (int i = 0; i < 2; ++i) {
    v1::JobResult result = Succeeded(offers[i].lease(), "output " + std::to_string(i));
    (*result.mutable_metrics())["seconds_total"] = i + 1.5;
    *results.mutable_job_result_batch()->add_results() = result;
  }
  ASSERT_TRUE(agent->Send(results).ok());
  auto acks = farm_.Await(*agent, v1::Envelope::kResultAckBatch);
  ASSERT_TRUE(acks.has_value());
  EXPECT_EQ(acks->result_ack_batch().acks_size(), 2);
  EXPECT_TRUE(farm_.coordinator().RunOnce().ok());  // a refused row does not halt farmd
  // Written one by one too: each result's metrics reach its own attempt, the refused one's
  // included.
  for (int i = 0; i < 2; ++i) {
    auto attempts =
        farm_.store().ListAttempts(static_cast<std::int64_t>(offers[i].lease().job_id()));
    ASSERT_TRUE(attempts.ok());
    ASSERT_EQ(attempts->size(), 1u);
    EXPECT_EQ((*attempts)[0].metrics_json, "{\"seconds_total\":" + std::to_string(i + 1) + ".5}");
  }
  EXPECT_GE(farm_.coordinator().counters().store_errors, 1u);
  EXPECT_EQ(farm_.store().GetJob(closed)->state, store::JobState::kSucceeded);
  EXPECT_EQ(CountAttempts(farm_.store(), closed, store::AttemptOutcome::kExpired), 1);
  const auto other = static_cast<std::int64_t>(offers[1].lease().job_id());
  EXPECT_EQ(farm_.store().GetJob(other)->state, store::JobState::kSucceeded);
  EXPECT_EQ(CountAttempts(farm_.store(), other, store::AttemptOutcome::kSucceeded), 1);
}

}  // namespace
}  // namespace farm::farmd::testing
