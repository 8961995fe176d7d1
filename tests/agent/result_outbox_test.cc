// ResultOutbox (private to farm_agent_core): building results, resuming a paused upload,
// restarting after a reconnect, forgetting acknowledged results.
#include "result_outbox.h"

#include <gtest/gtest.h>

#include "farm/agent/artifact_chunker.h"
#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace {

namespace v1 = studiofarm::v1;

SlotEvent Finished(uint64_t job_id, JobStatus status, std::string bytes,
                   CancellationToken::Reason reason = CancellationToken::Reason::kNone) {
  SlotEvent event;
  event.lease = {job_id, 1};
  event.finished = true;
  event.outcome.status = status;
  event.outcome.artifacts.push_back({"output", "application/octet-stream", std::move(bytes)});
  event.stop_reason = reason;
  return event;
}

// Records what was sent; fails every send after `budget` successful ones.
struct FlakySink {
  int budget = 1 << 30;
  std::vector<v1::Envelope> sent;
  ResultOutbox::SendFn Fn() {
    return [this](v1::Envelope& e) {
      if (budget-- <= 0) return Unavailable("queue full");
      sent.push_back(e);
      return Status::Ok();
    };
  }
};

std::string Concat(const std::vector<v1::Envelope>& sent, std::size_t from = 0) {
  std::string bytes;
  for (std::size_t i = from; i < sent.size(); ++i) {
    if (!sent[i].has_artifact_chunk()) continue;
    EXPECT_EQ(sent[i].artifact_chunk().offset(), bytes.size());
    bytes += sent[i].artifact_chunk().data();
  }
  return bytes;
}

TEST(BuildResultTest, MapsStatusAndDescribesArtifacts) {
  PendingResult ok = BuildResult(Finished(1, JobStatus::kSucceeded, "hello"));
  EXPECT_EQ(ok.result.status(), v1::RESULT_STATUS_SUCCEEDED);
  ASSERT_EQ(ok.result.artifacts_size(), 1);
  EXPECT_EQ(ok.result.artifacts(0).sha256(), Sha256Hex("hello"));
  EXPECT_EQ(ok.result.artifacts(0).size_bytes(), 5u);
  EXPECT_EQ(ok.artifact_bytes.at(0), "hello");

  EXPECT_EQ(
      BuildResult(Finished(2, JobStatus::kCancelled, "", CancellationToken::Reason::kCancelled))
          .result.status(),
      v1::RESULT_STATUS_CANCELLED);
  EXPECT_EQ(
      BuildResult(Finished(3, JobStatus::kCancelled, "", CancellationToken::Reason::kReleased))
          .result.status(),
      v1::RESULT_STATUS_RELEASED);
  PendingResult failed = BuildResult(Finished(4, JobStatus::kFailed, "partial"));
  EXPECT_EQ(failed.result.status(), v1::RESULT_STATUS_FAILED);
  EXPECT_EQ(failed.result.artifacts_size(), 0) << "a failed job uploads nothing";
}

TEST(BuildResultTest, AFailureSaysWhetherAnotherAttemptCouldSucceed) {
  SlotEvent transient = Finished(5, JobStatus::kFailed, "");
  transient.outcome.error = "internal: out of memory";
  EXPECT_EQ(BuildResult(std::move(transient)).result.failure_kind(), v1::FAILURE_KIND_TRANSIENT);
  SlotEvent permanent = Finished(6, JobStatus::kFailed, "");
  permanent.outcome = FailedOutcome(DataLoss("lora.safetensors: truncated"));
  const PendingResult built = BuildResult(std::move(permanent));
  EXPECT_EQ(built.result.failure_kind(), v1::FAILURE_KIND_PERMANENT);
  EXPECT_EQ(built.result.error(), "data_loss: lora.safetensors: truncated");
  EXPECT_EQ(BuildResult(Finished(7, JobStatus::kSucceeded, "x")).result.failure_kind(),
            v1::FAILURE_KIND_UNSPECIFIED);
}

TEST(FailedOutcomeTest, OnlyBadInputAndCorruptFilesArePermanent) {
  EXPECT_TRUE(FailedOutcome(InvalidArgument("bad cfg")).permanent);
  EXPECT_TRUE(FailedOutcome(DataLoss("truncated")).permanent);
  // This agent's problem (a model missing from its folder, no face models), or a crash.
  EXPECT_FALSE(FailedOutcome(NotFound("no model with sha256 ab")).permanent);
  EXPECT_FALSE(FailedOutcome(FailedPrecondition("no face models configured")).permanent);
  EXPECT_FALSE(FailedOutcome(Internal("out of memory")).permanent);
  EXPECT_FALSE(FailedOutcome(Unavailable("device lost")).permanent);
  EXPECT_EQ(FailedOutcome(Internal("x")).status, JobStatus::kFailed);
}

TEST(ResultOutboxTest, PausedUploadResumesWhereItStopped) {
  const std::string data(kMaxArtifactChunkBytes * 3 + 10, 'q');
  ResultOutbox outbox;
  outbox.Add({5, 1}, BuildResult(Finished(5, JobStatus::kSucceeded, data)));
  FlakySink sink;
  sink.budget = 2;  // two chunks go out, the third hits a full queue
  EXPECT_FALSE(outbox.SendUnsent(sink.Fn()).ok());
  EXPECT_TRUE(outbox.HasUnsent());
  sink.budget = 100;
  ASSERT_TRUE(outbox.SendUnsent(sink.Fn()).ok());
  EXPECT_FALSE(outbox.HasUnsent());
  ASSERT_EQ(sink.sent.size(), 5u);  // 4 chunks, then the result
  EXPECT_EQ(Concat(sink.sent), data);
  EXPECT_TRUE(sink.sent[3].artifact_chunk().last());
  EXPECT_TRUE(sink.sent[4].has_job_result());

  ASSERT_TRUE(outbox.SendUnsent(sink.Fn()).ok());
  EXPECT_EQ(sink.sent.size(), 5u) << "nothing more until a restart";
}

TEST(ResultOutboxTest, ArtifactsWithTheSameBytesAreUploadedOnce) {
  SlotEvent event = Finished(6, JobStatus::kSucceeded, "same pixels");
  event.outcome.artifacts.push_back({"stage/detailer#1", "image/png", "same pixels"});
  event.outcome.artifacts.push_back({"stage/tone#2", "image/png", "other pixels"});
  ResultOutbox outbox;
  outbox.Add({6, 1}, BuildResult(std::move(event)));
  FlakySink sink;
  ASSERT_TRUE(outbox.SendUnsent(sink.Fn()).ok());
  ASSERT_EQ(sink.sent.size(), 3u);  // one chunk per distinct digest, then the result
  EXPECT_EQ(sink.sent[0].artifact_chunk().data(), "same pixels");
  EXPECT_EQ(sink.sent[1].artifact_chunk().data(), "other pixels");
  ASSERT_TRUE(sink.sent[2].has_job_result());
  EXPECT_EQ(sink.sent[2].job_result().artifacts_size(), 3);  // every name is still described
}

TEST(ResultOutboxTest, AResultUnackedForLongIsSentAgainAndListedUntilAcked) {
  ResultOutbox outbox;
  outbox.Add({7, 2}, BuildResult(Finished(7, JobStatus::kSucceeded, "pixels")));
  FlakySink sink;
  ASSERT_TRUE(outbox.SendUnsent(sink.Fn()).ok());
  ASSERT_EQ(sink.sent.size(), 2u);
  EXPECT_EQ(outbox.Leases(), (std::vector<LeaseKey>{{7, 2}}));
  // Two heartbeats without an ack are tolerated, the third sends it again.
  outbox.RestartUnacked(2);
  outbox.RestartUnacked(2);
  EXPECT_FALSE(outbox.HasUnsent());
  outbox.RestartUnacked(2);
  EXPECT_TRUE(outbox.HasUnsent());
  ASSERT_TRUE(outbox.SendUnsent(sink.Fn()).ok());
  ASSERT_EQ(sink.sent.size(), 4u);
  EXPECT_TRUE(sink.sent[3].has_job_result());
  EXPECT_TRUE(outbox.Ack({7, 2}));
  EXPECT_TRUE(outbox.Leases().empty());
}

TEST(ResultOutboxTest, RestartUploadsEverythingAgainUntilAcked) {
  ResultOutbox outbox;
  outbox.Add({6, 1}, BuildResult(Finished(6, JobStatus::kSucceeded, "abc")));
  outbox.Add({7, 1}, BuildRefusal({7, 1}, v1::RESULT_STATUS_RELEASED, "busy"));
  FlakySink sink;
  ASSERT_TRUE(outbox.SendUnsent(sink.Fn()).ok());
  ASSERT_EQ(sink.sent.size(), 3u);  // chunk + result for 6, result for 7
  outbox.RestartAll();
  const std::size_t before = sink.sent.size();
  ASSERT_TRUE(outbox.SendUnsent(sink.Fn()).ok());
  EXPECT_EQ(sink.sent.size(), before + 3);
  EXPECT_EQ(Concat(sink.sent, before), "abc");

  EXPECT_TRUE(outbox.Ack({6, 1}));
  EXPECT_FALSE(outbox.Ack({6, 1}));
  EXPECT_FALSE(outbox.Contains({6, 1}));
  EXPECT_TRUE(outbox.Contains({7, 1}));
  outbox.RestartAll();
  const std::size_t after_ack = sink.sent.size();
  ASSERT_TRUE(outbox.SendUnsent(sink.Fn()).ok());
  ASSERT_EQ(sink.sent.size(), after_ack + 1);
  EXPECT_EQ(sink.sent.back().job_result().lease().job_id(), 7u);
  EXPECT_EQ(sink.sent.back().job_result().error(), "busy");
  EXPECT_TRUE(outbox.Ack({7, 1}));
  EXPECT_TRUE(outbox.empty());
}

}  // namespace
}  // namespace farm::agent
