// A FAILED result's failure_kind through farmd: a permanent failure fails the job at once
// (no second agent is tried); a transient one on the only agent leaves the job queued,
// and the HTTP API says why it cannot run.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "farm/farmd/api.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

using nlohmann::json;

class FailureKindsTest : public ::testing::Test {
 protected:
  void SetUp() override { farm_.Open(); }

  void Fail(transport::FakeAgentEnd& end, const v1::LeaseRef& lease, v1::FailureKind kind,
            const std::string& error) {
    v1::Envelope envelope;
    v1::JobResult* result = envelope.mutable_job_result();
    result->mutable_lease()->CopyFrom(lease);
    result->set_status(v1::RESULT_STATUS_FAILED);
    result->set_error(error);
    result->set_failure_kind(kind);
    ASSERT_TRUE(end.Send(envelope).ok());
  }

  json Get(const std::string& target) {
    ApiRequest request;
    request.method = "GET";
    request.target = target;
    const ApiResponse response = HandleApiRequest(farm_.coordinator(), ApiOptions{}, request);
    EXPECT_EQ(response.status, 200) << response.body;
    return json::parse(response.body, nullptr, false);
  }

  TempDir dir_;
  Farm farm_{dir_.path()};
};

TEST_F(FailureKindsTest, APermanentFailureFailsTheJobWithoutTryingAnotherAgent) {
  const SubmitResult submitted = farm_.Submit(1);
  auto a = farm_.Join("a");
  ASSERT_TRUE(a);
  auto offer = farm_.Await(*a, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  auto b = farm_.Join("b");  // free, never failed the job
  ASSERT_TRUE(b);
  const std::string error = "data_loss: /models/lora.safetensors: truncated";
  Fail(*a, offer->job_offer().lease(), v1::FAILURE_KIND_PERMANENT, error);
  ASSERT_TRUE(farm_.Await(*a, v1::Envelope::kResultAck).has_value());
  farm_.Pump(10);

  const auto job_id = static_cast<std::int64_t>(offer->job_offer().lease().job_id());
  auto job = farm_.store().GetJob(job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, store::JobState::kFailed);
  EXPECT_EQ(job->attempt_count, 1);
  EXPECT_EQ(job->last_error, error);
  EXPECT_FALSE(farm_.Await(*b, v1::Envelope::kJobOffer, 10).has_value());
  const json sweep = Get("/api/v1/sweeps/" + std::to_string(submitted.sweep_id));
  EXPECT_EQ(sweep["jobs"].value("failed", 0), 1) << sweep.dump();
  EXPECT_EQ(sweep["unrunnable"].value("jobs", -1), 0) << sweep.dump();
}

TEST_F(FailureKindsTest, ATransientFailureOnTheOnlyAgentIsReportedAsUnrunnable) {
  const SubmitResult submitted = farm_.Submit(1);
  auto a = farm_.Join("a");
  ASSERT_TRUE(a);
  auto offer = farm_.Await(*a, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  Fail(*a, offer->job_offer().lease(), v1::FAILURE_KIND_TRANSIENT, "internal: out of memory");
  ASSERT_TRUE(farm_.Await(*a, v1::Envelope::kResultAck).has_value());
  farm_.Pump(10);

  const auto job_id = static_cast<std::int64_t>(offer->job_offer().lease().job_id());
  auto job = farm_.store().GetJob(job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, store::JobState::kQueued);
  const std::string reason = "failed on every online agent (a): internal: out of memory";
  const json sweep = Get("/api/v1/sweeps/" + std::to_string(submitted.sweep_id));
  ASSERT_TRUE(sweep.contains("unrunnable")) << sweep.dump();
  EXPECT_EQ(sweep["unrunnable"].value("jobs", 0), 1) << sweep.dump();
  ASSERT_EQ(sweep["unrunnable"]["reasons"].size(), 1u) << sweep.dump();
  EXPECT_EQ(sweep["unrunnable"]["reasons"][0].value("reason", ""), reason);
  EXPECT_EQ(sweep["unrunnable"]["reasons"][0].value("first_job", std::int64_t{0}), job_id);
  const json jobs = Get("/api/v1/jobs?sweep=" + std::to_string(submitted.sweep_id));
  ASSERT_EQ(jobs["jobs"].size(), 1u) << jobs.dump();
  EXPECT_EQ(jobs["jobs"][0].value("waiting_reason", ""), reason) << jobs.dump();

  // An agent that has not failed it runs it: no longer unrunnable.
  auto b = farm_.Join("b");
  ASSERT_TRUE(b);
  ASSERT_TRUE(farm_.Await(*b, v1::Envelope::kJobOffer).has_value());
  EXPECT_EQ(Get("/api/v1/sweeps/" + std::to_string(submitted.sweep_id))["unrunnable"].value("jobs", -1), 0);
}

TEST_F(FailureKindsTest, AFailureWithoutAKindIsTransient) {
  farm_.Submit(1);
  auto a = farm_.Join("a");
  auto b = farm_.Join("b");
  ASSERT_TRUE(a && b);
  // Whichever agent got it fails it the way an older agent reports (no failure_kind).
  std::optional<v1::Envelope> offer = farm_.Await(*a, v1::Envelope::kJobOffer, 10);
  transport::FakeAgentEnd* first = a.get();
  transport::FakeAgentEnd* second = b.get();
  if (!offer) {
    offer = farm_.Await(*b, v1::Envelope::kJobOffer);
    std::swap(first, second);
  }
  ASSERT_TRUE(offer.has_value());
  farm_.Report(*first, offer->job_offer().lease(), v1::RESULT_STATUS_FAILED, {});
  ASSERT_TRUE(farm_.Await(*first, v1::Envelope::kResultAck).has_value());
  auto retry = farm_.Await(*second, v1::Envelope::kJobOffer);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->job_offer().lease().attempt(), 2u);
}

}  // namespace
}  // namespace farm::farmd::testing
