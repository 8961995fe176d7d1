// A real face through the farm's score path. The tiny model draws noise, so a face-api
// demo photo stands in for a render's final image: the agent's faces-artifact writer
// (farm/agent/faces_artifact.h, what RenderRunner uploads as "faces") runs on it, the
// artifact is the render job's result, and farmd's score job parses it against an identity
// that `farmctl identity add` stored from two cut-outs of one face of that photo. The
// stored similarity must be what `farmctl score` computes for the same photo and identity.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "faceid_paths.h"
#include "farm/agent/faces_artifact.h"
#include "farm/faceid/image_decode.h"
#include "farm/faceid/pipeline.h"
#include "farmd_test_util.h"
#include "shell_run.h"

namespace farm::farmd::testing {
namespace {

namespace fs = std::filesystem;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

// The identity's photo set as farmctl stored it.
class StoredPhotosResolver : public FakeResolver {
 public:
  explicit StoredPhotosResolver(std::string digest) : digest_(std::move(digest)) {}
  StatusOr<std::string> ResolvePhotoSet(const std::vector<std::string>&) override { return digest_; }

 private:
  std::string digest_;
};

TEST(ScoreRealFaceTest, AgentFacesArtifactOfADemoPhotoIsScoredByFarmdAsFarmctlScoresIt) {
  const auto models = faceid::testing::FindFaceModelDir();
  const auto demo = faceid::testing::FindFaceDemoDir();
  ASSERT_TRUE(models && demo && fs::exists(*demo + "/sample1.jpg"))
      << "face-api models and demo photos are missing: tools/setup.sh fetches them into "
         "$STUDIOFARM_MODELS/face-api (default ~/.cache/studiofarm/models/face-api)";
  TempDir dir;
  const std::string db = (dir.path() / "farm.db").string();
  const std::string photo = *demo + "/sample1.jpg";

  // The person: sample1's face 0 (box about x 414, y 355, 178x238), cut with a margin and
  // at 80 % size, so the render's face is close to hers without being the same pixels.
  const cv::Mat full = cv::imread(photo, cv::IMREAD_COLOR);
  ASSERT_FALSE(full.empty()) << photo;
  const cv::Mat face = full(cv::Rect(300, 230, 400, 490)).clone();
  ASSERT_TRUE(cv::imwrite((dir.path() / "alice1.png").string(), face));
  cv::Mat smaller;
  cv::resize(face, smaller, cv::Size(320, 392), 0, 0, cv::INTER_AREA);
  ASSERT_TRUE(cv::imwrite((dir.path() / "alice2.png").string(), smaller));
  const std::string farmctl = std::string(FARMCTL_PATH) + " --db " + Quote(db) + " --models-dir " +
                              Quote(*models) + " ";
  auto added = Shell(farmctl + "identity add alice " + Quote((dir.path() / "alice1.png").string()) +
                     " " + Quote((dir.path() / "alice2.png").string()) + " 2>&1");
  ASSERT_EQ(added.exit_code, 0) << added.out;
  auto cli = Shell(farmctl + "score " + Quote(photo) + " --identity alice --json");
  ASSERT_EQ(cli.exit_code, 0) << cli.out;
  const json expected = farmctl_test::ParseOrFail(cli);

  // The render's "faces" artifact, written by the agent's code from the photo's pixels.
  auto pipeline = faceid::FacePipeline::Load(*models);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  auto decoded = faceid::DecodeImageFile(photo);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  auto artifact = agent::MakeFacesArtifact(*pipeline, decoded->image);
  ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
  EXPECT_EQ(artifact->faces, 3);

  // farmd on the database farmctl wrote: one render job and its score job for alice.
  Farm farm(dir.path());
  farm.Open();
  auto alice = farm.store().GetIdentityByName("alice");
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  StoredPhotosResolver resolver(alice->photos_sha256);
  auto submitted = farm.coordinator().SubmitSweep(SpecYaml(1, true), "t.yaml", {}, resolver, {});
  ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
  auto agent = farm.Join("agent-1");
  auto offer = farm.Await(*agent, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());
  ASSERT_EQ(offer->job_offer().kind(), v1::JOB_KIND_RENDER);
  farm.Report(*agent, offer->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED,
              {{"image", "png bytes"}, {"faces", artifact->json}});

  store::JobFilter score_jobs;
  score_jobs.kind = store::JobKind::kScore;
  store::Job score_job;
  for (int i = 0; i < 200 && score_job.state != store::JobState::kSucceeded &&
                  score_job.state != store::JobState::kFailed;
       ++i) {
    farm.Pump(5);
    auto jobs = farm.store().ListJobs(score_jobs);
    ASSERT_TRUE(jobs.ok() && jobs->size() == 1u);
    score_job = jobs->front();
  }
  ASSERT_EQ(score_job.state, store::JobState::kSucceeded) << score_job.last_error;
  auto renders = farm.store().ListRenders({});
  ASSERT_TRUE(renders.ok() && renders->size() == 1u);
  auto scores = farm.store().ListScores(renders->front().id);
  ASSERT_TRUE(scores.ok()) << scores.status().ToString();
  ASSERT_EQ(scores->size(), 1u);
  const store::Score& score = scores->front();
  EXPECT_EQ(score.metric, "cosine");
  EXPECT_EQ(score.model_version, pipeline->DescriptorModelVersion());
  EXPECT_EQ(score.model_version, alice->photos.front().descriptor_model);
  EXPECT_EQ(score.faces_found, expected["faces_found"].get<int>());
  ASSERT_TRUE(score.similarity.has_value()) << score.reason;
  // Same descriptors on both paths (JSON round-trips float32 exactly): the same number.
  EXPECT_NEAR(*score.similarity, expected["cosine"]["similarity"].get<double>(), 1e-9)
      << cli.out;
  // Her face among three people: far above the 0.85-0.94 that different people reach here.
  EXPECT_GT(*score.similarity, 0.97);
  std::printf("farmd stored cosine %.6f for sample1.jpg vs alice; farmctl score %.6f\n",
              *score.similarity, expected["cosine"]["similarity"].get<double>());
}

}  // namespace
}  // namespace farm::farmd::testing
