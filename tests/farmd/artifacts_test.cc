// Artifact uploads: digests and sizes are verified before anything is stored, bounds are
// enforced per chunk, and no name or path from a message reaches the filesystem.
#include <gtest/gtest.h>

#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

class ArtifactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.max_artifact_bytes = 64;
    farm_ = std::make_unique<Farm>(dir_.path(), options_);
    farm_->Open();
    farm_->Submit(1);
    agent_ = farm_->Join("a1");
    auto offer = farm_->Await(*agent_, v1::Envelope::kJobOffer);
    ASSERT_TRUE(offer.has_value());
    lease_ = offer->job_offer().lease();
  }
  std::int64_t job_id() const { return static_cast<std::int64_t>(lease_.job_id()); }
  int StoredArtifacts() {
    int n = 0;
    for (std::int64_t id = 1; id < 20; ++id) n += farm_->store().GetArtifact(id).ok() ? 1 : 0;
    return n;
  }

  TempDir dir_;
  CoordinatorOptions options_;
  std::unique_ptr<Farm> farm_;
  std::unique_ptr<transport::FakeAgentEnd> agent_;
  v1::LeaseRef lease_;
};

TEST_F(ArtifactTest, WrongDigestIsRejectedAndNothingStored) {
  const std::string wrong = Sha256Hex("something else");
  farm_->Report(*agent_, lease_, v1::RESULT_STATUS_SUCCEEDED, {{"output", "actual bytes"}}, wrong);
  auto error = farm_->Await(*agent_, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_ARTIFACT_MISMATCH);
  auto ack = farm_->Await(*agent_, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  // The attempt counts as failed (retried elsewhere); no artifact row, no file.
  EXPECT_EQ(CountAttempts(farm_->store(), job_id(), store::AttemptOutcome::kFailed), 1);
  EXPECT_EQ(CountAttempts(farm_->store(), job_id(), store::AttemptOutcome::kSucceeded), 0);
  EXPECT_FALSE(farm_->store().GetArtifactBySha256(wrong).ok());
  EXPECT_EQ(StoredArtifacts(), 0);
  EXPECT_EQ(CountFiles(farm_->artifact_root()), 0);
  auto job = farm_->store().GetJob(job_id());
  ASSERT_TRUE(job.ok());
  EXPECT_NE(job->state, store::JobState::kSucceeded);
}

TEST_F(ArtifactTest, ArtifactsWithTheSameBytesAreStoredOnce) {
  // A stage that changed nothing gives the same bytes under two names; they travel once.
  farm_->Report(*agent_, lease_, v1::RESULT_STATUS_SUCCEEDED,
                {{"image", "same bytes"}, {"stage/detailer#1", "same bytes"}, {"record", "{}"}});
  auto ack = farm_->Await(*agent_, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->result_ack().accepted());
  EXPECT_FALSE(farm_->Await(*agent_, v1::Envelope::kError, 5).has_value());
  EXPECT_EQ(CountAttempts(farm_->store(), job_id(), store::AttemptOutcome::kSucceeded), 1);
  EXPECT_EQ(StoredArtifacts(), 2);
  EXPECT_EQ(CountFiles(farm_->artifact_root()), 2);
  EXPECT_EQ(farm_->coordinator().counters().artifacts_stored, 2u);
  // Every name is linked, the two with the same bytes to the one row.
  auto outputs = farm_->store().ListJobArtifacts(job_id());
  ASSERT_TRUE(outputs.ok());
  std::map<std::string, std::int64_t> by_name;
  for (const auto& output : *outputs) by_name[output.name] = output.artifact.id;
  ASSERT_EQ(by_name.size(), 3u);
  EXPECT_EQ(by_name["image"], by_name["stage/detailer#1"]);
  EXPECT_NE(by_name["image"], by_name["record"]);
}

TEST_F(ArtifactTest, DeclaredSizeMustMatchReceivedBytes) {
  const std::string bytes = "twelve bytes";
  farm_->Upload(*agent_, lease_, {"output", bytes});
  v1::Envelope envelope;
  v1::JobResult* result = envelope.mutable_job_result();
  result->mutable_lease()->CopyFrom(lease_);
  result->set_status(v1::RESULT_STATUS_SUCCEEDED);
  v1::ArtifactDescriptor* d = result->add_artifacts();
  d->set_name("output");
  d->set_sha256(Sha256Hex(bytes));
  d->set_size_bytes(bytes.size() + 1);
  ASSERT_TRUE(agent_->Send(envelope).ok());
  auto error = farm_->Await(*agent_, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_ARTIFACT_MISMATCH);
  ASSERT_TRUE(farm_->Await(*agent_, v1::Envelope::kResultAck).has_value());
  EXPECT_EQ(CountAttempts(farm_->store(), job_id(), store::AttemptOutcome::kFailed), 1);
  EXPECT_EQ(StoredArtifacts(), 0);
  EXPECT_EQ(CountFiles(farm_->artifact_root()), 0);
}

TEST_F(ArtifactTest, ChunksOutOfBoundsAreDroppedWithAnError) {
  // Past the size limit (64 bytes).
  farm_->Upload(*agent_, lease_, {"output", std::string(100, 'x')}, 60);
  auto error = farm_->Await(*agent_, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_MALFORMED);

  // For a lease the agent does not hold.
  v1::LeaseRef other = lease_;
  other.set_attempt(lease_.attempt() + 1);
  farm_->Upload(*agent_, other, {"output", "abc"});
  error = farm_->Await(*agent_, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_UNKNOWN_LEASE);

  // A "digest" that is really a path.
  farm_->Upload(*agent_, lease_, {"output", "abc"}, 4, "../../../../tmp/evil");
  error = farm_->Await(*agent_, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_MALFORMED);

  // A chunk that skips ahead.
  v1::Envelope skip;
  skip.mutable_artifact_chunk()->mutable_lease()->CopyFrom(lease_);
  skip.mutable_artifact_chunk()->set_sha256(Sha256Hex("abc"));
  skip.mutable_artifact_chunk()->set_offset(10);
  skip.mutable_artifact_chunk()->set_data("abc");
  ASSERT_TRUE(agent_->Send(skip).ok());
  error = farm_->Await(*agent_, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_MALFORMED);

  EXPECT_EQ(CountFiles(farm_->artifact_root()), 0);  // every partial upload discarded
  EXPECT_EQ(farm_->coordinator().counters().artifacts_rejected, 4u);
}

TEST_F(ArtifactTest, PathLikeNamesAreNeverUsed) {
  const TestArtifact evil{"../../../../etc/farm-evil", "content named like a path"};
  farm_->Report(*agent_, lease_, v1::RESULT_STATUS_SUCCEEDED, {evil});
  auto ack = farm_->Await(*agent_, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack && ack->result_ack().accepted());
  const std::string sha = Sha256Hex(evil.bytes);
  auto artifact = farm_->store().GetArtifactBySha256(sha);
  ASSERT_TRUE(artifact.ok());
  EXPECT_EQ(artifact->path, sha.substr(0, 2) + "/" + sha.substr(2, 2) + "/" + sha);
  EXPECT_EQ(CountFiles(farm_->artifact_root()), 1);
  EXPECT_TRUE(std::filesystem::exists(farm_->artifact_root() / artifact->path));
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find("evil"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace farm::farmd::testing
