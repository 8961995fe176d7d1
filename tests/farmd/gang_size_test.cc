// A train job's stored record decides its gang size and required checkpoint (submit and
// recovery both read them from the row).
#include <gtest/gtest.h>

#include "farm/schemas/render_params.h"
#include "gang_size.h"
#include "required_models.h"

namespace farm::farmd {
namespace {

store::Job Row(store::JobKind kind, const std::string& params) {
  store::Job job;
  job.kind = kind;
  job.params_json = params;
  return job;
}

TEST(GangSizeTest, TrainJobsLeaseTheirRanksOthersOneSlot) {
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kTrain, R"({"kind":"train","ranks":4,"checkpoint":"ab"})")), 4);
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kTrain, R"({"kind":"train","checkpoint":"ab"})")), 1);
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kTrain, "not json")), 1);
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kTrain, R"({"ranks":0})")), 1);
  EXPECT_EQ(GangSizeOf(Row(store::JobKind::kRender, R"({"ranks":4})")), 1);
  EXPECT_EQ(RequiredModels(Row(store::JobKind::kTrain, R"({"ranks":2,"checkpoint":"ab12"})")),
            std::vector<std::string>{"ab12"});
  EXPECT_TRUE(RequiredModels(Row(store::JobKind::kTrain, R"({"checkpoint":""})")).empty());
}

TEST(RequiredModelsTest, RenderNeedsItsCheckpointVaeAndLoraFiles) {
  RenderParams p;
  p.checkpoint_sha256 = "cc";
  p.loras = {{"sha256:bb", 1.0}, {"train:abc@100", 1.0}};
  EXPECT_EQ(RequiredModels(Row(store::JobKind::kRender, ToCanonicalJson(p).value())),
            (std::vector<std::string>{"bb", "cc"}));
  // A separate VAE file is fetched and counted for affinity like the checkpoint.
  p.vae_sha256 = "aa";
  EXPECT_EQ(RequiredModels(Row(store::JobKind::kRender, ToCanonicalJson(p).value())),
            (std::vector<std::string>{"aa", "bb", "cc"}));
  // Textual-inversion embedding files too.
  p.embeddings = {{"neg", "ee"}, {"face", "dd"}};
  EXPECT_EQ(RequiredModels(Row(store::JobKind::kRender, ToCanonicalJson(p).value())),
            (std::vector<std::string>{"aa", "bb", "cc", "dd", "ee"}));
}

}  // namespace
}  // namespace farm::farmd
