// Training through farmd: a sweep with train: runs prepare -> train -> render; a stand-in
// agent returns the train job's artifacts, and farmd stores the run (dataset, base
// checkpoint, hyper-parameters, world size, best step), the downsampled steps and the
// identity's LoRA checkpoints with their face-ID scores; progress is kept for watch.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "train_records.h"  // farmd-internal: coordinator/farmd/src
#include "farm/farmd/api.h"
#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

using Json = nlohmann::json;

const char kSpec[] =
    "name: t\n"
    "identity: {name: alice, photos: photos/*.jpg, token: sks person}\n"
    "checkpoint: {sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n"
    "train: {steps: [1000, 2500], rank: 4}\n"
    "render: {prompt: 'photo of {token}', sampler: Euler, seeds: [1]}\n";

// train_result as farm-train writes it: two saved checkpoints, validation picks 1000.
std::string TrainResult(const std::string& lora1000, const std::string& lora2500) {
  Json result = {{"steps", 2500},
                 {"world_size", 2},
                 {"checkpoints",
                  {{{"step", 1000}, {"file", "a.safetensors"}, {"sha256", Sha256Hex(lora1000)},
                    {"sshs_model_hash", std::string(64, 'b')}, {"sshs_legacy_hash", "0123abcd"},
                    {"saved", true}},
                   {{"step", 2500}, {"file", "b.safetensors"}, {"sha256", Sha256Hex(lora2500)},
                    {"sshs_model_hash", std::string(64, 'c')}, {"sshs_legacy_hash", "4567abcd"},
                    {"saved", true}}}},
                 {"validation",
                  {{"scores", {{"1000", 0.61}, {"2500", 0.42}}},
                   {"selection", {{"best_step", 1000}, {"best_score", 0.61}}}}}};
  return result.dump();
}

std::string Metrics(int steps) {
  std::string lines;
  for (int s = 1; s <= steps; ++s) {
    lines += Json({{"step", s}, {"loss", 1.0 / s}, {"lr", 1e-4}, {"lr_text_encoder", 5e-5},
                   {"grad_norm", 0.5}})
                 .dump() +
             "\n";
  }
  return lines;
}

class TrainResultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    farm_ = std::make_unique<Farm>(dir_.path());
    farm_->Open();
    store::NewIdentity alice;
    alice.name = "alice";
    alice.instance_token = "sks person";
    store::NewIdentityPhoto photo;
    photo.sha256 = std::string(64, 'e');
    photo.path = "photos/a.jpg";
    alice.photos.push_back(photo);
    ASSERT_TRUE(farm_->store().CreateIdentity(alice).ok());
    FakeResolver resolver;
    auto submitted = farm_->coordinator().SubmitSweep(kSpec, "t.yaml", {}, resolver, SubmitOptions{});
    ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
    sweep_id_ = submitted->sweep_id;
    agent_ = farm_->Join("a1");
  }

  // Uploads in large chunks (the metrics are long) and reports success.
  void Succeed(const v1::LeaseRef& lease, const std::vector<TestArtifact>& artifacts) {
    v1::Envelope envelope;
    v1::JobResult* result = envelope.mutable_job_result();
    result->mutable_lease()->CopyFrom(lease);
    result->set_status(v1::RESULT_STATUS_SUCCEEDED);
    for (const TestArtifact& artifact : artifacts) {
      farm_->Upload(*agent_, lease, artifact, 16384);
      v1::ArtifactDescriptor* d = result->add_artifacts();
      d->set_name(artifact.name);
      d->set_sha256(Sha256Hex(artifact.bytes));
      d->set_size_bytes(artifact.bytes.size());
      d->set_media_type("application/octet-stream");
    }
    (*result->mutable_metrics())["world_size"] = 2;
    ASSERT_TRUE(agent_->Send(envelope).ok());
    farm_->Pump(10);
  }

  v1::JobOffer NextOffer() {
    auto offer = farm_->Await(*agent_, v1::Envelope::kJobOffer);
    EXPECT_TRUE(offer.has_value());
    return offer ? offer->job_offer() : v1::JobOffer{};
  }

  TempDir dir_;
  std::unique_ptr<Farm> farm_;
  std::unique_ptr<transport::FakeAgentEnd> agent_;
  std::int64_t sweep_id_ = 0;
};

TEST_F(TrainResultsTest, PrepareThenTrainAndTheRunIsStored) {
  const v1::JobOffer prepare = NextOffer();
  ASSERT_EQ(prepare.kind(), v1::JOB_KIND_PREPARE);
  const Json prepare_params = Json::parse(prepare.params_json());
  EXPECT_EQ(prepare_params["kind"], "prepare");
  EXPECT_EQ(prepare_params["photos"][0]["path"], "photos/*.jpg");
  Succeed(prepare.lease(), {{"dataset", "tar bytes"}});

  const v1::JobOffer train = NextOffer();
  ASSERT_EQ(train.kind(), v1::JOB_KIND_TRAIN);
  EXPECT_EQ(Json::parse(train.params_json())["prepare_param_hash"], prepare.param_hash());
  EXPECT_EQ(train.gang_hosts_size(), 0);  // one seat: no hostfile

  // Progress reaches the sweep's running view (what farmctl watch shows).
  v1::Envelope progress;
  progress.mutable_progress()->mutable_lease()->CopyFrom(train.lease());
  progress.mutable_progress()->set_stage("train");
  progress.mutable_progress()->set_step(340);
  progress.mutable_progress()->set_total_steps(2500);
  progress.mutable_progress()->set_message("loss 0.12 lr 1e-04 1.9 s/step ETA 1h8m");
  ASSERT_TRUE(agent_->Send(progress).ok());
  farm_->Pump(5);
  std::vector<JobProgress> running = farm_->coordinator().RunningProgress(sweep_id_);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].job_id, static_cast<std::int64_t>(train.lease().job_id()));
  EXPECT_EQ(running[0].step, 340u);
  EXPECT_EQ(running[0].total, 2500u);
  EXPECT_EQ(running[0].message, "loss 0.12 lr 1e-04 1.9 s/step ETA 1h8m");
  // ... and the sweep's API answer, which farmctl watch polls.
  ApiRequest request;
  request.method = "GET";
  request.target = "/api/v1/sweeps/" + std::to_string(sweep_id_);
  const ApiResponse response = HandleApiRequest(farm_->coordinator(), ApiOptions{}, request);
  ASSERT_EQ(response.status, 200) << response.body;
  const Json sweep = Json::parse(response.body);
  ASSERT_EQ(sweep["progress"].size(), 1u) << response.body;
  EXPECT_EQ(sweep["progress"][0]["stage"], "train");
  EXPECT_EQ(sweep["progress"][0]["step"], 340);
  EXPECT_EQ(sweep["progress"][0]["total"], 2500);

  const std::string lora1000 = "lora at 1000", lora2500 = "lora at 2500";
  Succeed(train.lease(), {{"lora@1000", lora1000},
                          {"lora@2500", lora2500},
                          {"train_result", TrainResult(lora1000, lora2500)},
                          {"train_metrics", Metrics(2500)}});
  EXPECT_TRUE(farm_->coordinator().RunningProgress(sweep_id_).empty());

  const auto job_id = static_cast<std::int64_t>(train.lease().job_id());
  auto run = farm_->store().GetTrainRun(job_id);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->train_param_hash, train.param_hash());
  EXPECT_EQ(run->prepare_param_hash, prepare.param_hash());
  EXPECT_EQ(run->dataset_sha256, Sha256Hex("tar bytes"));
  EXPECT_EQ(run->checkpoint_sha256, std::string(64, 'a'));
  EXPECT_EQ(run->world_size, 2);
  EXPECT_EQ(run->steps, 2500);
  EXPECT_EQ(run->best_step, 1000);
  EXPECT_EQ(Json::parse(run->params_json)["rank"], 4);
  EXPECT_EQ(farm_->store().GetTrainRunByHash(train.param_hash())->job_id, job_id);

  // 2500 steps kept as at most 2000 rows: every k-th step plus the last.
  auto steps = farm_->store().ListTrainSteps(job_id);
  ASSERT_TRUE(steps.ok());
  EXPECT_LE(steps->size(), kMaxTrainStepRows);
  EXPECT_GE(steps->size(), 1000u);
  EXPECT_EQ(steps->back().step, 2500);
  EXPECT_EQ(steps->front().step, 2);  // k = 2
  EXPECT_DOUBLE_EQ(*steps->back().loss, 1.0 / 2500);
  EXPECT_DOUBLE_EQ(*steps->back().lr_text_encoder, 5e-5);

  // The identity's LoRA with both checkpoints and their face-ID scores.
  auto lora = farm_->store().GetLoraByTrainHash(train.param_hash());
  ASSERT_TRUE(lora.ok()) << lora.status().ToString();
  EXPECT_EQ(lora->job_id, job_id);
  auto checkpoints = farm_->store().ListLoraCheckpoints(lora->id);
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 2u);
  EXPECT_EQ((*checkpoints)[0].step, 1000);
  EXPECT_EQ((*checkpoints)[0].sha256, Sha256Hex(lora1000));
  EXPECT_DOUBLE_EQ(*(*checkpoints)[0].validation_score, 0.61);
  EXPECT_DOUBLE_EQ(*(*checkpoints)[1].validation_score, 0.42);

  // The renders wait for the train job, and are offered now.
  EXPECT_EQ(NextOffer().kind(), v1::JOB_KIND_RENDER);
}

TEST(GangOffersTest, SeatsLearnTheGangsHostsAndPartnersAreCancelledOnSuccess) {
  TempDir dir;
  Farm farm(dir.path());
  farm.Open();
  store::NewJob row;
  row.kind = store::JobKind::kTrain;
  row.params_json = R"({"kind":"train"})";
  row.param_hash = Sha256Hex(row.params_json);
  auto created = farm.store().CreateSweep({"gang", "", 0, {row}});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  scheduler::JobSpec spec;
  spec.id = created->jobs.job_ids.at(0);
  spec.sweep_id = created->sweep_id;
  spec.kind = scheduler::JobKind::kTrain;
  spec.param_hash = row.param_hash;
  spec.gang_size = 2;
  ASSERT_TRUE(farm.coordinator().scheduler().SubmitJobs({spec}).ok());
  auto a = farm.Join("a");
  auto b = farm.Join("b");
  auto offer_a = farm.Await(*a, v1::Envelope::kJobOffer);
  auto offer_b = farm.Await(*b, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer_a && offer_b);
  for (const auto* offer : {&offer_a->job_offer(), &offer_b->job_offer()}) {
    EXPECT_EQ(offer->gang_size(), 2u);
    ASSERT_EQ(offer->gang_hosts_size(), 2);
  }
  // Rank order: each seat finds its own agent's hostname at its rank.
  const v1::JobOffer& first = offer_a->job_offer();
  EXPECT_EQ(first.gang_hosts(static_cast<int>(first.gang_rank())), "host-a");
  EXPECT_EQ(first.gang_hosts(static_cast<int>(offer_b->job_offer().gang_rank())), "host-b");
  EXPECT_EQ(offer_b->job_offer().gang_hosts(0), first.gang_hosts(0));

  // The rank-0 seat's success cancels the partner seat, whose late result is ignored.
  const bool a_leads = first.gang_rank() == 0;
  transport::FakeAgentEnd& leader = a_leads ? *a : *b;
  transport::FakeAgentEnd& partner = a_leads ? *b : *a;
  farm.Report(leader, first.lease(), v1::RESULT_STATUS_SUCCEEDED, {});
  auto cancel = farm.Await(partner, v1::Envelope::kCancel);
  ASSERT_TRUE(cancel.has_value());
  EXPECT_EQ(cancel->cancel().reason(), "gang finished");
  farm.Report(partner, first.lease(), v1::RESULT_STATUS_CANCELLED, {});
  farm.Pump(5);
  EXPECT_EQ(farm.store().GetJob(spec.id)->state, store::JobState::kSucceeded);
  EXPECT_EQ(CountAttempts(farm.store(), spec.id, store::AttemptOutcome::kSucceeded), 1);
}

TEST(TrainRecordsTest, DownsampleKeepsEveryKthStepAndTheLast) {
  std::vector<store::TrainStep> steps;
  for (int s = 1; s <= 5001; ++s) steps.push_back({s, 1.0, 0.1, 0.05, 0.3});
  auto kept = DownsampleSteps(steps, 2000);
  EXPECT_LE(kept.size(), 2000u);
  EXPECT_EQ(kept.back().step, 5001);
  const int k = kept[1].step - kept[0].step;
  EXPECT_EQ(k, 3);  // ceil(5001 / 1999)
  for (std::size_t i = 0; i + 1 < kept.size(); ++i) EXPECT_EQ(kept[i].step % k, 0);
  EXPECT_EQ(DownsampleSteps({steps.begin(), steps.begin() + 10}, 2000).size(), 10u);
}

TEST(TrainRecordsTest, MalformedMetricsNameTheLine) {
  const std::string params = R"({"kind":"train","identity":"alice","checkpoint":"x"})";
  auto parsed = ParseTrainOutputs(params, R"({"steps":2})", "{\"step\":1}\nnot json\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("line 2"), std::string::npos) << parsed.status().message();
  EXPECT_FALSE(ParseTrainOutputs(params, "[]", "").ok());
}

}  // namespace
}  // namespace farm::farmd::testing
