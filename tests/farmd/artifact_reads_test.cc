// farmd serving artifact reads and resolves (in-process link): answers and errors by
// case, the bounded read queue (BUSY), only registered agents, a damaged stored file.
#include <gtest/gtest.h>

#include <filesystem>

#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {
namespace fs = std::filesystem;

class ArtifactReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.max_queued_artifact_reads = 2;
    farm_ = std::make_unique<Farm>(dir_.path(), options_);
    farm_->Open();
    SubmitResult sweep = farm_->Submit(1);
    agent_ = farm_->Join("a1");
    auto offer = farm_->Await(*agent_, v1::Envelope::kJobOffer);
    ASSERT_TRUE(offer.has_value());
    param_hash_ = offer->job_offer().param_hash();
    farm_->Report(*agent_, offer->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
                  {{"output", bytes_}});
    ASSERT_TRUE(farm_->Await(*agent_, v1::Envelope::kResultAck).has_value());
    (void)sweep;
  }

  void Read(transport::FakeAgentEnd& end, std::uint64_t id, const std::string& sha,
            std::uint64_t offset, std::uint32_t length) {
    v1::Envelope envelope;
    v1::ArtifactRead* read = envelope.mutable_artifact_read();
    read->set_request_id(id);
    read->set_sha256(sha);
    read->set_offset(offset);
    read->set_length(length);
    ASSERT_TRUE(end.Send(envelope).ok());
  }
  v1::ArtifactData AwaitData() {
    auto data = farm_->Await(*agent_, v1::Envelope::kArtifactData);
    EXPECT_TRUE(data.has_value());
    return data.has_value() ? data->artifact_data() : v1::ArtifactData();
  }

  TempDir dir_;
  CoordinatorOptions options_;
  std::unique_ptr<Farm> farm_;
  std::unique_ptr<transport::FakeAgentEnd> agent_;
  std::string param_hash_;
  const std::string bytes_ = "0123456789abcdefghij";
};

TEST_F(ArtifactReadsTest, RangesAndErrors) {
  const std::string sha = Sha256Hex(bytes_);
  Read(*agent_, 1, sha, 5, 4);
  v1::ArtifactData data = AwaitData();
  EXPECT_EQ(data.request_id(), 1u);
  EXPECT_EQ(data.error(), v1::FETCH_ERROR_NONE) << data.message();
  EXPECT_EQ(data.data(), "5678");
  EXPECT_EQ(data.size_bytes(), bytes_.size());

  Read(*agent_, 2, sha, 18, 0);  // 0: up to 1 MiB, clipped at the end
  data = AwaitData();
  EXPECT_EQ(data.data(), "ij");

  Read(*agent_, 3, sha, bytes_.size() + 1, 4);
  EXPECT_EQ(AwaitData().error(), v1::FETCH_ERROR_BAD_REQUEST);
  Read(*agent_, 4, sha, 0, (1u << 20) + 1);
  EXPECT_EQ(AwaitData().error(), v1::FETCH_ERROR_BAD_REQUEST);
  Read(*agent_, 5, "../../etc/passwd", 0, 4);
  EXPECT_EQ(AwaitData().error(), v1::FETCH_ERROR_BAD_REQUEST);
  Read(*agent_, 6, Sha256Hex("unknown"), 0, 4);
  data = AwaitData();
  EXPECT_EQ(data.error(), v1::FETCH_ERROR_NOT_FOUND);
  EXPECT_NE(data.message().find(Sha256Hex("unknown")), std::string::npos) << data.message();

  // The stored file damaged from outside: a clear error, not wrong bytes.
  auto stored = farm_->store().GetArtifactBySha256(sha);
  ASSERT_TRUE(stored.ok());
  fs::resize_file(farm_->artifact_root() / stored->path, 3);
  Read(*agent_, 7, sha, 0, 4);
  data = AwaitData();
  EXPECT_EQ(data.error(), v1::FETCH_ERROR_UNAVAILABLE);
  EXPECT_NE(data.message().find("has 3 bytes, the store says 20"), std::string::npos)
      << data.message();
}

TEST_F(ArtifactReadsTest, QueueIsBoundedAndOnlyRegisteredAgentsRead) {
  const std::string sha = Sha256Hex(bytes_);
  for (std::uint64_t id = 1; id <= 3; ++id) Read(*agent_, id, sha, 0, 4);
  std::map<std::uint64_t, v1::FetchError> answers;
  for (int i = 0; i < 3; ++i) {
    v1::ArtifactData data = AwaitData();
    answers[data.request_id()] = data.error();
  }
  EXPECT_EQ(answers[1], v1::FETCH_ERROR_NONE);
  EXPECT_EQ(answers[2], v1::FETCH_ERROR_NONE);
  EXPECT_EQ(answers[3], v1::FETCH_ERROR_BUSY);  // two may wait; the third is refused

  auto stranger = farm_->link().Connect("stranger");
  Read(*stranger, 9, sha, 0, 4);
  auto error = farm_->Await(*stranger, v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), v1::ERROR_CODE_NOT_REGISTERED);
}

TEST_F(ArtifactReadsTest, ResolveByProducerAndName) {
  v1::Envelope envelope;
  v1::ArtifactResolve* resolve = envelope.mutable_artifact_resolve();
  resolve->set_request_id(11);
  resolve->set_producer_param_hash(param_hash_);
  resolve->set_name("output");
  ASSERT_TRUE(agent_->Send(envelope).ok());
  auto info = farm_->Await(*agent_, v1::Envelope::kArtifactInfo);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->artifact_info().request_id(), 11u);
  EXPECT_EQ(info->artifact_info().error(), v1::FETCH_ERROR_NONE) << info->artifact_info().message();
  EXPECT_EQ(info->artifact_info().artifact().sha256(), Sha256Hex(bytes_));
  EXPECT_EQ(info->artifact_info().artifact().size_bytes(), bytes_.size());

  resolve->set_name("lora@5");
  ASSERT_TRUE(agent_->Send(envelope).ok());
  info = farm_->Await(*agent_, v1::Envelope::kArtifactInfo);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->artifact_info().error(), v1::FETCH_ERROR_NOT_FOUND);
  EXPECT_NE(info->artifact_info().message().find("its outputs: output"), std::string::npos)
      << info->artifact_info().message();

  resolve->set_producer_param_hash("not a hash");
  ASSERT_TRUE(agent_->Send(envelope).ok());
  info = farm_->Await(*agent_, v1::Envelope::kArtifactInfo);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->artifact_info().error(), v1::FETCH_ERROR_BAD_REQUEST);
}

}  // namespace
}  // namespace farm::farmd::testing
