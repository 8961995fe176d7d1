// Score jobs are completed by farmd itself from the render's "faces" artifact: never
// offered to an agent; a score row per scored render; clear failures otherwise.
#include <gtest/gtest.h>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

const std::string kPhotoA(64, 'a');
const std::string kPhotoB(64, 'b');

// Resolves the spec's photo set to the digest of the identity stored below.
class PhotoResolver : public FakeResolver {
 public:
  StatusOr<std::string> ResolvePhotoSet(const std::vector<std::string>&) override {
    return PhotoSetDigest({kPhotoA, kPhotoB});
  }
};

std::string FacesJson(const std::string& model, const std::vector<std::vector<float>>& faces) {
  std::string out = "{\"model_version\":\"" + model + "\",\"width\":64,\"height\":64,\"faces\":[";
  for (std::size_t i = 0; i < faces.size(); ++i) {
    out += (i ? "," : "") + std::string("{\"index\":") + std::to_string(i) +
           ",\"score\":0.9,\"box\":{\"x\":1,\"y\":2,\"width\":10,\"height\":12},\"descriptor\":[";
    for (std::size_t j = 0; j < faces[i].size(); ++j) {
      out += (j ? "," : "") + std::to_string(faces[i][j]);
    }
    out += "]}";
  }
  return out + "]}";
}

class ScoreJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    farm_ = std::make_unique<Farm>(dir_.path());
    farm_->Open();
    store::NewIdentity alice;
    alice.name = "alice";
    alice.instance_token = "sks person";
    for (const auto& [sha, descriptor] :
         {std::pair{kPhotoA, std::vector<float>{1, 0, 0, 0}},
          std::pair{kPhotoB, std::vector<float>{0.8f, 0.6f, 0, 0}}}) {
      store::NewIdentityPhoto photo;
      photo.sha256 = sha;
      photo.path = "photos/" + sha.substr(0, 1) + ".jpg";
      photo.face_count = 1;
      photo.descriptor = descriptor;
      photo.descriptor_model = "face-model-1";
      alice.photos.push_back(photo);
    }
    ASSERT_TRUE(farm_->store().CreateIdentity(alice).ok());
    PhotoResolver resolver;
    SubmitOptions options;  // real render + score jobs, not synthetic stand-ins
    auto submitted =
        farm_->coordinator().SubmitSweep(SpecYaml(1, true), "t.yaml", {}, resolver, options);
    ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
    agent_ = farm_->Join("agent-1");
  }

  // The agent renders the one render job and reports `artifacts`; then farmd runs on.
  void RenderWith(const std::vector<TestArtifact>& artifacts) {
    auto offer = farm_->Await(*agent_, v1::Envelope::kJobOffer);
    ASSERT_TRUE(offer.has_value());
    ASSERT_EQ(offer->job_offer().kind(), v1::JOB_KIND_RENDER);
    farm_->Report(*agent_, offer->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED, artifacts);
    farm_->Pump(10);
    // Nothing else is offered: the score job is farmd's own.
    EXPECT_FALSE(farm_->Await(*agent_, v1::Envelope::kJobOffer, 5).has_value());
  }

  store::Job ScoreJob() {
    store::JobFilter filter;
    filter.kind = store::JobKind::kScore;
    auto jobs = farm_->store().ListJobs(filter);
    EXPECT_TRUE(jobs.ok());
    EXPECT_EQ(jobs->size(), 1u);
    return jobs->empty() ? store::Job{} : jobs->front();
  }

  std::vector<store::Score> Scores() {
    auto renders = farm_->store().ListRenders({});
    EXPECT_TRUE(renders.ok() && renders->size() == 1);
    auto scores = farm_->store().ListScores(renders->front().id);
    EXPECT_TRUE(scores.ok());
    return *scores;
  }

  TempDir dir_;
  std::unique_ptr<Farm> farm_;
  std::unique_ptr<transport::FakeAgentEnd> agent_;
};

TEST_F(ScoreJobsTest, ScoresTheRenderFacesAgainstTheIdentity) {
  RenderWith({{"image", "png bytes"},
              {"faces", FacesJson("face-model-1", {{0, 0, 1, 0}, {1, 0, 0, 0}})}});
  store::Job job = ScoreJob();
  EXPECT_EQ(job.state, store::JobState::kSucceeded) << job.last_error;
  std::vector<store::Score> scores = Scores();
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_EQ(scores[0].metric, "cosine");
  EXPECT_EQ(scores[0].model_version, "face-model-1");
  EXPECT_EQ(scores[0].faces_found, 2);
  EXPECT_EQ(scores[0].job_id, job.id);
  ASSERT_TRUE(scores[0].similarity.has_value());
  EXPECT_NEAR(*scores[0].similarity, 0.9, 1e-5);  // best face: mean of 1 and 0.8

  // The sweep's query row has the image, the agent and the score.
  auto result = farm_->store().GetRenderResult(job.sweep_id, scores[0].render_id);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->image_sha256, Sha256Hex("png bytes"));
  EXPECT_EQ(result->agent_id, "agent-1");
  EXPECT_TRUE(result->faces_artifact_id.has_value());
  EXPECT_NEAR(result->score.value_or(-1), 0.9, 1e-5);
  EXPECT_EQ(result->faces_found, 2);
}

TEST_F(ScoreJobsTest, NoFaceInTheRenderStoresANullScoreWithItsReason) {
  RenderWith({{"image", "png bytes"}, {"faces", FacesJson("face-model-1", {})}});
  EXPECT_EQ(ScoreJob().state, store::JobState::kSucceeded);
  std::vector<store::Score> scores = Scores();
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_FALSE(scores[0].similarity.has_value());
  EXPECT_EQ(scores[0].faces_found, 0);
  EXPECT_FALSE(scores[0].reason.empty());
}

TEST_F(ScoreJobsTest, RenderWithoutFaceDataFailsTheScoreJob) {
  RenderWith({{"image", "png bytes"}});
  store::Job job = ScoreJob();
  EXPECT_EQ(job.state, store::JobState::kFailed);
  EXPECT_NE(job.last_error.find("render has no face data"), std::string::npos) << job.last_error;
  EXPECT_TRUE(Scores().empty());
}

TEST_F(ScoreJobsTest, OtherFaceModelFailsTheScoreJob) {
  RenderWith({{"image", "png bytes"}, {"faces", FacesJson("face-model-2", {{1, 0, 0, 0}})}});
  store::Job job = ScoreJob();
  EXPECT_EQ(job.state, store::JobState::kFailed);
  EXPECT_NE(job.last_error.find("face-model-2"), std::string::npos) << job.last_error;
  EXPECT_TRUE(Scores().empty());
}

}  // namespace
}  // namespace farm::farmd::testing
