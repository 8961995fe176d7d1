// Fail-stop of the loop when the store fails: nothing of the batch that could not be
// stored is acknowledged, the loop stays stopped, and a restart gets the result again
// from the agent. The failure is a real one from the OS: the artifact's content folder
// cannot be created because a file has its name.
#include <gtest/gtest.h>

#include <fstream>

#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

class FailStopTest : public ::testing::Test {
 protected:
  void SetUp() override { farm_.Open(); }

  // Runs the loop until it fails; its error (OK if it never did).
  Status PumpUntilHalted(int max_runs = 20) {
    for (int i = 0; i < max_runs; ++i) {
      farm_.clock().Advance(1);
      if (Status status = farm_.coordinator().RunOnce(); !status.ok()) return status;
    }
    return Status::Ok();
  }

  // Every message farmd sent to `end` so far, by kind.
  static std::vector<v1::Envelope::BodyCase> Drain(transport::FakeAgentEnd& end) {
    std::vector<v1::Envelope::BodyCase> kinds;
    while (auto message = end.Receive(std::chrono::milliseconds(0))) {
      kinds.push_back(message->body_case());
    }
    return kinds;
  }

  // Makes <root>/<first two hex digits> a file, so no artifact with `sha` can be stored.
  void BlockContentFolder(const std::string& sha) {
    std::ofstream(farm_.artifact_root() / sha.substr(0, 2)) << "in the way";
  }

  TempDir dir_;
  Farm farm_{dir_.path()};
};

TEST_F(FailStopTest, ArtifactNotWrittenStopsTheLoopBeforeTheAckAndARestartStoresIt) {
  farm_.Submit(1);
  auto agent = farm_.Join("a1");
  auto offer = farm_.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  const v1::LeaseRef lease = offer->job_offer().lease();
  const auto job_id = static_cast<std::int64_t>(lease.job_id());
  const TestArtifact output{"output", "bytes the artifact store cannot take"};
  const std::string sha = Sha256Hex(output.bytes);
  BlockContentFolder(sha);

  farm_.Report(*agent, lease, v1::RESULT_STATUS_SUCCEEDED, {output});
  const Status halted = PumpUntilHalted();
  ASSERT_FALSE(halted.ok()) << "the loop went on although the artifact was not stored";
  EXPECT_NE(halted.message().find("job " + std::to_string(job_id) + " attempt 1"),
            std::string::npos)
      << halted.ToString();
  // Stopped for good: later iterations return the same error and send nothing.
  const Status again = farm_.coordinator().RunOnce();
  EXPECT_EQ(again.message(), halted.message());
  for (v1::Envelope::BodyCase kind : Drain(*agent)) {
    EXPECT_NE(kind, v1::Envelope::kResultAck) << "a result was acknowledged but not stored";
  }
  // Nothing of the batch is on disk: the lease is still open, no artifact row.
  auto job = farm_.store().GetJob(job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, store::JobState::kLeased);
  EXPECT_EQ(CountAttempts(farm_.store(), job_id, store::AttemptOutcome::kSucceeded), 0);
  EXPECT_FALSE(farm_.store().GetArtifactBySha256(sha).ok());

  // A new farmd with room: the agent registers again and resends the result it kept.
  farm_.Crash();
  std::filesystem::remove(farm_.artifact_root() / sha.substr(0, 2));
  farm_.Open();
  auto again_agent = farm_.Join("a1");
  farm_.Report(*again_agent, lease, v1::RESULT_STATUS_SUCCEEDED, {output});
  auto ack = farm_.Await(*again_agent, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->result_ack().accepted());
  EXPECT_EQ(CountAttempts(farm_.store(), job_id, store::AttemptOutcome::kSucceeded), 1);
  auto artifact = farm_.store().GetArtifactBySha256(sha);
  ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
  auto on_disk = Sha256File((farm_.artifact_root() / artifact->path).string());
  ASSERT_TRUE(on_disk.ok()) << on_disk.status().ToString();
  EXPECT_EQ(*on_disk, sha);
}

TEST_F(FailStopTest, ARepeatedResultIsNotAcknowledgedBeforeItsFirstCopyIsStored) {
  farm_.Submit(1);
  auto agent = farm_.Join("a1");
  auto offer = farm_.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  const v1::LeaseRef lease = offer->job_offer().lease();
  const TestArtifact output{"output", "bytes sent twice"};
  BlockContentFolder(Sha256Hex(output.bytes));
  // Both copies arrive in one loop iteration, before the first one is committed: the
  // repeat's "accepted" ack would tell the agent to forget a result that is not stored.
  farm_.Report(*agent, lease, v1::RESULT_STATUS_SUCCEEDED, {output});
  farm_.Report(*agent, lease, v1::RESULT_STATUS_SUCCEEDED, {output});
  ASSERT_FALSE(PumpUntilHalted().ok());
  for (v1::Envelope::BodyCase kind : Drain(*agent)) {
    EXPECT_NE(kind, v1::Envelope::kResultAck) << "a result was acknowledged but not stored";
  }
}

TEST_F(FailStopTest, ARepeatedResultIsAcknowledgedAfterItsFirstCopyIsStored) {
  farm_.Submit(1);
  auto agent = farm_.Join("a1");
  auto offer = farm_.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  const v1::LeaseRef lease = offer->job_offer().lease();
  const TestArtifact output{"output", "bytes sent twice"};
  farm_.Report(*agent, lease, v1::RESULT_STATUS_SUCCEEDED, {output});
  farm_.Report(*agent, lease, v1::RESULT_STATUS_SUCCEEDED, {output});
  auto first = farm_.Await(*agent, v1::Envelope::kResultAck);
  auto second = farm_.Await(*agent, v1::Envelope::kResultAck);
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_TRUE(first->result_ack().accepted());
  EXPECT_TRUE(second->result_ack().accepted());
  EXPECT_EQ(CountAttempts(farm_.store(), static_cast<std::int64_t>(lease.job_id()),
                          store::AttemptOutcome::kSucceeded),
            1);
  // The repeat does not discard the uploads its first copy is stored from.
  const std::string sha = Sha256Hex(output.bytes);
  auto artifact = farm_.store().GetArtifactBySha256(sha);
  ASSERT_TRUE(artifact.ok()) << "acknowledged, but its artifact is not stored: "
                             << artifact.status().ToString();
  auto on_disk = Sha256File((farm_.artifact_root() / artifact->path).string());
  ASSERT_TRUE(on_disk.ok()) << on_disk.status().ToString();
  EXPECT_EQ(*on_disk, sha);
}

}  // namespace
}  // namespace farm::farmd::testing
