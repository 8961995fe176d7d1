#include <gtest/gtest.h>

#include "farm.pb.h"

namespace studiofarm::v1 {
namespace {

TEST(WireProtocolTest, JobOfferRoundTrips) {
  Envelope out;
  out.set_sequence(7);
  JobOffer* offer = out.mutable_job_offer();
  offer->mutable_lease()->set_job_id(42);
  offer->mutable_lease()->set_attempt(3);
  offer->set_lease_deadline_unix_ms(1'800'000'000'000);
  offer->set_kind(JOB_KIND_RENDER);
  offer->set_param_hash("88caaf76");
  offer->set_params_json(R"({"kind":"render"})");

  Envelope in;
  ASSERT_TRUE(in.ParseFromString(out.SerializeAsString()));
  ASSERT_EQ(in.body_case(), Envelope::kJobOffer);
  EXPECT_EQ(in.job_offer().lease().job_id(), 42u);
  EXPECT_EQ(in.job_offer().lease().attempt(), 3u);
  EXPECT_EQ(in.job_offer().kind(), JOB_KIND_RENDER);
  EXPECT_EQ(in.job_offer().params_json(), R"({"kind":"render"})");
}

TEST(WireProtocolTest, ResultCarriesArtifactsAndMetrics) {
  Envelope out;
  JobResult* result = out.mutable_job_result();
  result->set_status(RESULT_STATUS_SUCCEEDED);
  ArtifactDescriptor* artifact = result->add_artifacts();
  artifact->set_name("image");
  artifact->set_sha256(std::string(64, 'a'));
  artifact->set_size_bytes(12345);
  artifact->set_media_type("image/png");
  (*result->mutable_metrics())["faceid_similarity"] = 0.82;

  Envelope in;
  ASSERT_TRUE(in.ParseFromString(out.SerializeAsString()));
  EXPECT_EQ(in.job_result().artifacts(0).size_bytes(), 12345u);
  EXPECT_DOUBLE_EQ(in.job_result().metrics().at("faceid_similarity"), 0.82);
}

TEST(WireProtocolTest, GarbageDoesNotParseAsAValidMessage) {
  Envelope in;
  // A truncated length-delimited field must be rejected rather than read past the end.
  const std::string truncated("\x6a\x10\x0a", 3);
  EXPECT_FALSE(in.ParseFromString(truncated));
}

TEST(WireProtocolTest, SyntheticIsItsOwnJobKind) {
  EXPECT_NE(JOB_KIND_SYNTHETIC, JOB_KIND_RENDER);
  EXPECT_EQ(JobKind_Name(JOB_KIND_SYNTHETIC), "JOB_KIND_SYNTHETIC");
}

}  // namespace
}  // namespace studiofarm::v1
