// Identities with photos, LoRAs with checkpoints, scores and agents: round trips.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_util::OpenOrDie;
using testing_util::Row;
using testing_util::SampleRender;
using testing_util::TempDir;

class StoreIdentitiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("farm.db");
    store_ = OpenOrDie(path_);
    ASSERT_NE(store_, nullptr);
  }

  std::int64_t CreateAna() {
    NewIdentity ana;
    ana.name = "ana";
    ana.instance_token = "sks person";
    ana.photos.push_back(
        {Sha256Hex("p1"), "identities/ana/1.jpg", 1, {0.25f, -1.5f, 3.0f}, "arcface-r100", ""});
    ana.photos.push_back({Sha256Hex("p2"), "identities/ana/2.jpg", std::nullopt, {}, "", ""});
    auto id = store_->CreateIdentity(ana);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreIdentitiesTest, IdentityWithPhotosRoundTrip) {
  const std::int64_t id = CreateAna();
  ASSERT_GT(id, 0);
  auto identity = store_->GetIdentity(id);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->name, "ana");
  EXPECT_EQ(identity->instance_token, "sks person");
  EXPECT_EQ(identity->photos_sha256, PhotoSetDigest({Sha256Hex("p2"), Sha256Hex("p1")}));
  ASSERT_EQ(identity->photos.size(), 2u);
  const IdentityPhoto& first = identity->photos[0];
  EXPECT_EQ(first.identity_id, id);
  EXPECT_EQ(first.sha256, Sha256Hex("p1"));
  EXPECT_EQ(first.path, "identities/ana/1.jpg");
  EXPECT_EQ(first.face_count, 1);
  EXPECT_THAT(first.descriptor, ElementsAre(0.25f, -1.5f, 3.0f));
  EXPECT_EQ(first.descriptor_model, "arcface-r100");
  const IdentityPhoto& second = identity->photos[1];
  EXPECT_FALSE(second.face_count.has_value());
  EXPECT_TRUE(second.descriptor.empty());

  ASSERT_TRUE(store_->SetPhotoAnalysis(second.id, 2, {1.0f, 2.0f}, "arcface-r100").ok());
  auto by_name = store_->GetIdentityByName("ana");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->id, id);
  EXPECT_EQ(by_name->photos[1].face_count, 2);
  EXPECT_THAT(by_name->photos[1].descriptor, ElementsAre(1.0f, 2.0f));
  EXPECT_EQ(store_->SetPhotoAnalysis(second.id, 1, {1.0f}, "").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetPhotoAnalysis(999, 1, {}, "").code(), StatusCode::kNotFound);

  auto missing = store_->GetIdentityByName("bob");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("bob"));
}

TEST_F(StoreIdentitiesTest, DuplicateNameIsAlreadyExistsAndWritesNoPhotos) {
  ASSERT_GT(CreateAna(), 0);
  NewIdentity again;
  again.name = "ana";
  again.instance_token = "ohwx person";
  again.photos.push_back({Sha256Hex("p9"), "x.jpg", 1, {}, "", ""});
  auto duplicate = store_->CreateIdentity(again);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(testing_util::RawSql(path_, "SELECT count(*) FROM identity_photos"), "2");
}

TEST_F(StoreIdentitiesTest, PhotosKeepEveryFaceAsJsonAndIdentitiesListByName) {
  const std::string faces = R"([{"score":0.99,"box":{"x":1,"y":2,"width":3,"height":4}},{"score":0.7}])";
  NewIdentity zoe;
  zoe.name = "zoe";
  zoe.instance_token = "ohwx person";
  zoe.photos.push_back({Sha256Hex("z1"), "/photos/z1.jpg", 2, {1.0f, 0.0f}, "face-api@x", faces});
  ASSERT_TRUE(store_->CreateIdentity(zoe).ok());
  ASSERT_GT(CreateAna(), 0);

  auto listed = store_->ListIdentities();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "ana");
  EXPECT_EQ((*listed)[0].photos.size(), 2u);
  EXPECT_EQ((*listed)[0].photos[0].faces_json, "");  // NULL
  EXPECT_EQ((*listed)[1].name, "zoe");
  ASSERT_EQ((*listed)[1].photos.size(), 1u);
  EXPECT_EQ((*listed)[1].photos[0].faces_json, faces);
  EXPECT_EQ((*listed)[1].photos[0].face_count, 2);
  EXPECT_EQ(testing_util::RawSql(path_, "SELECT json_array_length(faces_json) FROM identity_photos "
                                        "WHERE sha256 = '" + Sha256Hex("z1") + "'"),
            "2");

  // The schema refuses text that is not JSON, and nothing of that identity is stored.
  NewIdentity broken;
  broken.name = "broken";
  broken.instance_token = "sks person";
  broken.photos.push_back({Sha256Hex("b1"), "b.jpg", 1, {1.0f}, "face-api@x", "[{not json"});
  EXPECT_EQ(store_->CreateIdentity(broken).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetIdentityByName("broken").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreIdentitiesTest, LorasAndCheckpoints) {
  const std::int64_t ana = CreateAna();
  NewLora lora{ana, Sha256Hex("train-params"), 0, Sha256Hex("sd15"), R"({"rank":16})"};
  auto lora_id = store_->InsertLora(lora);
  ASSERT_TRUE(lora_id.ok()) << lora_id.status().ToString();
  EXPECT_EQ(*store_->InsertLora(lora), *lora_id);  // deterministic training: same row

  auto a800 = store_->InsertArtifact(
      {Sha256Hex("ckpt-800"), 100, "loras/800.safetensors", "application/x-safetensors"});
  auto a1600 = store_->InsertArtifact(
      {Sha256Hex("ckpt-1600"), 100, "loras/1600.safetensors", "application/x-safetensors"});
  ASSERT_TRUE(a800.ok() && a1600.ok());
  auto c1600 = store_->AddLoraCheckpoint(*lora_id, 1600, *a1600);
  auto c800 = store_->AddLoraCheckpoint(*lora_id, 800, *a800);
  ASSERT_TRUE(c1600.ok() && c800.ok()) << c800.status().ToString();
  EXPECT_EQ(*store_->AddLoraCheckpoint(*lora_id, 800, *a800), *c800);  // repeated report
  EXPECT_EQ(store_->AddLoraCheckpoint(*lora_id, 800, *a1600).status().code(),
            StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_->SetCheckpointValidation(*c1600, 0.71).ok());
  EXPECT_EQ(store_->SetCheckpointValidation(999, 0.1).code(), StatusCode::kNotFound);

  auto checkpoints = store_->ListLoraCheckpoints(*lora_id);
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 2u);
  EXPECT_EQ((*checkpoints)[0].step, 800);
  EXPECT_EQ((*checkpoints)[0].sha256, Sha256Hex("ckpt-800"));
  EXPECT_FALSE((*checkpoints)[0].validation_score.has_value());
  EXPECT_EQ((*checkpoints)[1].step, 1600);
  EXPECT_EQ((*checkpoints)[1].artifact_id, *a1600);
  EXPECT_DOUBLE_EQ((*checkpoints)[1].validation_score.value_or(0), 0.71);

  auto stored = store_->GetLora(*lora_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->identity_id, ana);
  EXPECT_EQ(stored->checkpoint_sha256, Sha256Hex("sd15"));
  EXPECT_EQ(stored->settings_json, R"({"rank":16})");
  EXPECT_FALSE(stored->job_id.has_value());
  EXPECT_EQ(store_->GetLoraByTrainHash(Sha256Hex("train-params"))->id, *lora_id);
  EXPECT_EQ(store_->GetLora(999).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreIdentitiesTest, ScoresAreIdempotentPerModelVersion) {
  const std::int64_t ana = CreateAna();
  auto renders = store_->InsertRenders({Row(SampleRender(1)), Row(SampleRender(2))});
  ASSERT_TRUE(renders.ok());
  const std::int64_t r1 = (*renders)[0].id;
  const std::int64_t r2 = (*renders)[1].id;
  auto ids =
      store_->InsertScores({{r1, ana, 0, "cosine", "arcface-1", 0.83, 1, ""},
                            {r2, ana, 0, "cosine", "arcface-1", std::nullopt, 0, "no face"}});
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  // A duplicate delivery keeps the first value; a new model version adds a row.
  auto again = store_->InsertScores({{r1, ana, 0, "cosine", "arcface-1", 0.10, 1, ""},
                                     {r1, ana, 0, "cosine", "arcface-2", 0.79, 1, ""}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0], (*ids)[0]);
  EXPECT_NE((*again)[1], (*ids)[0]);

  auto scores = store_->ListScores(r1);
  ASSERT_TRUE(scores.ok());
  ASSERT_EQ(scores->size(), 2u);
  EXPECT_EQ((*scores)[0].identity_id, ana);
  EXPECT_EQ((*scores)[0].metric, "cosine");
  EXPECT_EQ((*scores)[0].model_version, "arcface-1");
  EXPECT_DOUBLE_EQ((*scores)[0].similarity.value_or(-1), 0.83);
  EXPECT_EQ((*scores)[0].faces_found, 1);
  EXPECT_EQ((*scores)[1].model_version, "arcface-2");
  auto no_face = store_->ListScores(r2);
  ASSERT_TRUE(no_face.ok());
  ASSERT_EQ(no_face->size(), 1u);
  EXPECT_FALSE((*no_face)[0].similarity.has_value());
  EXPECT_EQ((*no_face)[0].reason, "no face");

  // No face but a similarity contradicts itself; the schema refuses it.
  auto contradictory = store_->InsertScores({{r2, ana, 0, "euclidean", "x", 0.5, 0, ""}});
  EXPECT_EQ(contradictory.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreIdentitiesTest, ListScoresForSweepKeepsToTheSweep) {
  const std::int64_t ana = CreateAna();
  auto sweep = store_->CreateSweep({"s", "", 0, {}});
  auto other = store_->CreateSweep({"t", "", 0, {}});
  ASSERT_TRUE(sweep.ok() && other.ok());
  auto renders = store_->InsertRenders({Row(SampleRender(1), sweep->sweep_id),
                                        Row(SampleRender(2), sweep->sweep_id),
                                        Row(SampleRender(3), other->sweep_id)});
  ASSERT_TRUE(renders.ok()) << renders.status().ToString();
  const std::int64_t r1 = (*renders)[0].id;
  const std::int64_t r2 = (*renders)[1].id;
  const std::int64_t r3 = (*renders)[2].id;
  ASSERT_TRUE(store_->InsertScores({{r2, ana, 0, "cosine", "m", std::nullopt, 0, "no face"},
                                    {r3, ana, 0, "cosine", "m", 0.5, 1, ""},
                                    {r1, ana, 0, "euclidean", "m", 0.4, 2, ""},
                                    {r1, ana, 0, "cosine", "m", 0.9, 2, ""}})
                  .ok());
  auto scores = store_->ListScoresForSweep(sweep->sweep_id);
  ASSERT_TRUE(scores.ok()) << scores.status().ToString();
  ASSERT_EQ(scores->size(), 3u);
  // By render, then insertion order; the other sweep's render is left out.
  EXPECT_EQ((*scores)[0].render_id, r1);
  EXPECT_EQ((*scores)[0].metric, "euclidean");
  EXPECT_EQ((*scores)[0].faces_found, 2);
  EXPECT_EQ((*scores)[1].render_id, r1);
  EXPECT_DOUBLE_EQ((*scores)[1].similarity.value_or(-1), 0.9);
  EXPECT_EQ((*scores)[2].render_id, r2);
  EXPECT_FALSE((*scores)[2].similarity.has_value());
  EXPECT_EQ((*scores)[2].reason, "no face");
  EXPECT_EQ((*scores)[2].identity_id, ana);
  auto none = store_->ListScoresForSweep(999);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(StoreIdentitiesTest, AgentsUpsertKeepsFirstSeen) {
  ASSERT_TRUE(store_->UpsertAgent({"gpu-02", "node2", "cuda", 80LL << 30, 16, "0.1.0"}).ok());
  ASSERT_TRUE(store_->UpsertAgent({"cpu-01", "node1", "cpu", 64LL << 30, 2, "0.1.0"}).ok());
  auto before = store_->GetAgent("gpu-02");
  ASSERT_TRUE(before.ok());
  AgentRecord upgraded{"gpu-02", "node2", "cuda", 80LL << 30, 16, "0.2.0", AgentState::kDraining};
  ASSERT_TRUE(store_->UpsertAgent(upgraded).ok());

  auto after = store_->GetAgent("gpu-02");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->version, "0.2.0");
  EXPECT_EQ(after->state, AgentState::kDraining);
  EXPECT_EQ(after->memory_bytes, 80LL << 30);
  EXPECT_EQ(after->first_seen_at_ms, before->first_seen_at_ms);
  EXPECT_GT(after->last_seen_at_ms, before->last_seen_at_ms);

  ASSERT_TRUE(store_->SetAgentState("cpu-01", AgentState::kLost).ok());
  EXPECT_EQ(store_->SetAgentState("nobody", AgentState::kLost).code(), StatusCode::kNotFound);
  auto agents = store_->ListAgents();
  ASSERT_TRUE(agents.ok());
  ASSERT_EQ(agents->size(), 2u);
  EXPECT_EQ((*agents)[0].id, "cpu-01");
  EXPECT_EQ((*agents)[0].state, AgentState::kLost);
  EXPECT_EQ((*agents)[0].cores, 2);
  EXPECT_EQ((*agents)[1].hostname, "node2");
}

}  // namespace
}  // namespace farm::store
