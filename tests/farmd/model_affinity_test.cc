// Render jobs go to agents that already hold their models: farmd tells the scheduler
// which models a render reads (its offer lists them), and an agent's result says which
// models it keeps loaded, replacing farmd's guess.
#include <gtest/gtest.h>

#include <algorithm>

#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

const std::string kCheckpoint(64, 'a');  // SpecYaml's checkpoint sha256

std::string OneRender(int seed) {
  return "name: again\n"
         "identity: {name: alice, photos: photos/*.jpg, token: sks person}\n"
         "checkpoint: {sha256: " +
         kCheckpoint +
         "}\n"
         "render:\n  prompt: \"photo of {token}\"\n  sampler: Euler\n  seeds: [" +
         std::to_string(seed) + "]\n";
}

class ModelAffinityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    farm_ = std::make_unique<Farm>(dir_.path());
    farm_->Open();
    first_ = farm_->Join("agent-1");
    second_ = farm_->Join("agent-2");
  }

  void Submit(const std::string& yaml) {
    FakeResolver resolver;
    SubmitOptions options;  // real render jobs
    auto submitted = farm_->coordinator().SubmitSweep(yaml, "t.yaml", {}, resolver, options);
    ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
  }

  TempDir dir_;
  std::unique_ptr<Farm> farm_;
  std::unique_ptr<transport::FakeAgentEnd> first_, second_;
};

TEST_F(ModelAffinityTest, TheAgentHoldingTheCheckpointGetsTheNextRender) {
  Submit(SpecYaml(2));
  auto offer1 = farm_->Await(*first_, v1::Envelope::kJobOffer);
  auto offer2 = farm_->Await(*second_, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer1.has_value());
  ASSERT_TRUE(offer2.has_value());
  // The offer names the models the render reads.
  const auto& required = offer1->job_offer().required_model_sha256();
  EXPECT_NE(std::find(required.begin(), required.end(), kCheckpoint), required.end());

  // agent-1 says it keeps nothing loaded (say, its cache is too small); agent-2 keeps
  // the checkpoint.
  const TestArtifact image{"image", "png bytes"};
  farm_->Report(*first_, offer1->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED, {image}, "",
                std::vector<std::string>{});
  farm_->Report(*second_, offer2->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED, {image}, "",
                std::vector<std::string>{kCheckpoint});
  farm_->Pump(10);

  // Both are free; the next render goes to agent-2 (without the preference the first
  // agent by memory and handle, agent-1, would get it).
  Submit(OneRender(3));
  EXPECT_TRUE(farm_->Await(*second_, v1::Envelope::kJobOffer).has_value());
  EXPECT_FALSE(farm_->Await(*first_, v1::Envelope::kJobOffer, 5).has_value());
}

}  // namespace
}  // namespace farm::farmd::testing
