// render_results: each sweep's view of its renders. Rows appear when a render joins a
// sweep, take the result of the job that serves them, and keep an earlier evaluation's
// image and score when a later sweep renders the same record again.
#include <gtest/gtest.h>

#include "store_test_util.h"

namespace farm::store {
namespace {

using testing_util::OpenOrDie;
using testing_util::RawSql;
using testing_util::SampleRender;
using testing_util::TempDir;

NewJob RenderJob(int i, bool rerender = false) {
  NewJob job;
  job.kind = JobKind::kRender;
  job.render = SampleRender(i);
  job.rerender = rerender;
  return job;
}

NewJob ScoreJob(int i) {
  NewJob job;
  job.kind = JobKind::kScore;
  job.params_json = "{\"score\":" + std::to_string(i) + "}";
  job.param_hash = Sha256Hex(job.params_json);
  return job;
}

class StoreRenderResultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenOrDie(dir_.File("farm.db"));
    ASSERT_NE(store_, nullptr);
    NewIdentity ana;
    ana.name = "ana";
    ana.instance_token = "sks person";
    auto identity = store_->CreateIdentity(ana);
    ASSERT_TRUE(identity.ok()) << identity.status().ToString();
    identity_ = *identity;
  }

  CreatedSweep Sweep(std::vector<NewJob> jobs) {
    NewSweep sweep;
    sweep.name = "s";
    sweep.spec_yaml = "name: s\n";
    sweep.jobs = std::move(jobs);
    auto created = store_->CreateSweep(sweep);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : CreatedSweep{};
  }

  std::int64_t Artifact(const std::string& bytes) {
    NewArtifact artifact;
    artifact.sha256 = Sha256Hex(bytes);
    artifact.size = static_cast<std::int64_t>(bytes.size());
    artifact.path = "a/" + artifact.sha256;
    artifact.media_type = "image/png";
    auto id = store_->InsertArtifact(artifact);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  void Score(std::int64_t render_id, std::int64_t job_id, double cosine, const char* metric = "cosine") {
    NewScore score;
    score.render_id = render_id;
    score.identity_id = identity_;
    score.job_id = job_id;
    score.metric = metric;
    score.model_version = "face-model-1";
    score.similarity = cosine;
    score.faces_found = 1;
    ASSERT_TRUE(store_->InsertScores({score}).ok());
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::int64_t identity_ = 0;
};

TEST_F(StoreRenderResultsTest, RowPerSweepRenderFilledByResultAndScore) {
  CreatedSweep first = Sweep({RenderJob(0), ScoreJob(0)});
  const std::int64_t render = first.jobs.render_ids[0];
  const std::int64_t job = first.jobs.job_ids[0];
  auto empty = store_->GetRenderResult(first.sweep_id, render);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->job_id, job);
  EXPECT_FALSE(empty->artifact_id.has_value());
  EXPECT_FALSE(empty->score.has_value());

  RenderResultUpdate update;
  update.job_id = job;
  update.artifact_id = Artifact("png-1");
  update.image_sha256 = Sha256Hex("png-1");
  update.agent_id = "agent-1";
  update.agent_version = "0.9";
  update.seconds = 12.5;
  ASSERT_TRUE(store_->RecordRenderResult(update).ok());
  Score(render, first.jobs.job_ids[1], 0.61);
  Score(render, first.jobs.job_ids[1], 0.83, "euclidean");

  auto row = store_->GetRenderResult(first.sweep_id, render);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->artifact_id, update.artifact_id);
  EXPECT_EQ(row->image_sha256, Sha256Hex("png-1"));
  EXPECT_EQ(row->agent_id, "agent-1");
  EXPECT_EQ(row->agent_version, "0.9");
  EXPECT_DOUBLE_EQ(row->seconds.value_or(-1), 12.5);
  EXPECT_TRUE(row->rendered_at_ms.has_value());
  EXPECT_DOUBLE_EQ(row->score.value_or(-1), 0.61);
  EXPECT_DOUBLE_EQ(row->euclidean.value_or(-1), 0.83);
  EXPECT_EQ(row->faces_found, 1);
  EXPECT_EQ(row->identity_id, identity_);
}

TEST_F(StoreRenderResultsTest, SharedRenderStartsWithTheEarlierResultAndGetsItsOwnScore) {
  CreatedSweep first = Sweep({RenderJob(0), ScoreJob(0)});
  const std::int64_t render = first.jobs.render_ids[0];
  RenderResultUpdate update;
  update.job_id = first.jobs.job_ids[0];
  update.artifact_id = Artifact("png-1");
  update.image_sha256 = Sha256Hex("png-1");
  ASSERT_TRUE(store_->RecordRenderResult(update).ok());
  Score(render, first.jobs.job_ids[1], 0.5);

  CreatedSweep second = Sweep({RenderJob(0), ScoreJob(1)});
  EXPECT_EQ(second.jobs.renders_shared, 1);
  EXPECT_EQ(second.jobs.job_ids[0], first.jobs.job_ids[0]);  // no second render job
  auto row = store_->GetRenderResult(second.sweep_id, render);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->artifact_id, update.artifact_id);
  EXPECT_FALSE(row->score.has_value());  // its own score job has not run
  Score(render, second.jobs.job_ids[1], 0.5);
  row = store_->GetRenderResult(second.sweep_id, render);
  ASSERT_TRUE(row.ok());
  EXPECT_DOUBLE_EQ(row->score.value_or(-1), 0.5);
}

TEST_F(StoreRenderResultsTest, RerenderKeepsTheEarlierEvaluation) {
  CreatedSweep first = Sweep({RenderJob(0), ScoreJob(0)});
  const std::int64_t render = first.jobs.render_ids[0];
  RenderResultUpdate old_result;
  old_result.job_id = first.jobs.job_ids[0];
  old_result.artifact_id = Artifact("png-old");
  old_result.image_sha256 = Sha256Hex("png-old");
  ASSERT_TRUE(store_->RecordRenderResult(old_result).ok());
  Score(render, first.jobs.job_ids[1], 0.7);

  CreatedSweep nightly = Sweep({RenderJob(0, /*rerender=*/true), ScoreJob(2)});
  EXPECT_EQ(nightly.jobs.renders_shared, 0);
  EXPECT_EQ(nightly.jobs.render_ids[0], render);  // the same record
  ASSERT_NE(nightly.jobs.job_ids[0], first.jobs.job_ids[0]);  // a new job renders it
  auto fresh = store_->GetRenderResult(nightly.sweep_id, render);
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->artifact_id.has_value());  // not the old image

  RenderResultUpdate new_result;
  new_result.job_id = nightly.jobs.job_ids[0];
  new_result.artifact_id = Artifact("png-new");
  new_result.image_sha256 = Sha256Hex("png-new");
  ASSERT_TRUE(store_->RecordRenderResult(new_result).ok());
  // Same (render, identity, metric, model): the scores table keeps its first row, the
  // nightly sweep's row gets the new value.
  Score(render, nightly.jobs.job_ids[1], 0.64);

  auto results = store_->ListRenderResults(render);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].image_sha256, Sha256Hex("png-old"));
  EXPECT_DOUBLE_EQ((*results)[0].score.value_or(-1), 0.7);
  EXPECT_EQ((*results)[1].image_sha256, Sha256Hex("png-new"));
  EXPECT_DOUBLE_EQ((*results)[1].score.value_or(-1), 0.64);
}

TEST_F(StoreRenderResultsTest, RecordRenderResultWithoutRowsIsNotFound) {
  RenderResultUpdate update;
  update.job_id = 999;
  update.artifact_id = Artifact("png");
  EXPECT_EQ(store_->RecordRenderResult(update).code(), StatusCode::kNotFound);
  update.artifact_id = 0;
  EXPECT_EQ(store_->RecordRenderResult(update).code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreRenderResultsTest, SelectBindsValuesAndRefusesWritesAndSecondStatements) {
  CreatedSweep sweep = Sweep({RenderJob(0), RenderJob(1), RenderJob(2)});
  auto rows = store_->Select(
      "SELECT r.id, r.sampler, r.cfg, rr.score FROM render_results rr JOIN renders r "
      "ON r.id = rr.render_id WHERE rr.sweep_id = ?1 AND r.sampler = ?2 ORDER BY r.id",
      {SqlValue{sweep.sweep_id}, SqlValue{std::string("Euler")}});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->columns, (std::vector<std::string>{"id", "sampler", "cfg", "score"}));
  ASSERT_EQ(rows->rows.size(), 2u);  // renders 0 and 2 use Euler
  EXPECT_EQ(std::get<std::int64_t>(rows->rows[0][0]), sweep.jobs.render_ids[0]);
  EXPECT_EQ(std::get<std::string>(rows->rows[0][1]), "Euler");
  EXPECT_DOUBLE_EQ(std::get<double>(rows->rows[0][2]), 6.5);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(rows->rows[0][3]));

  // A value is only ever a value.
  auto injected = store_->Select("SELECT count(*) FROM renders WHERE sampler = ?1",
                                 {SqlValue{std::string("x' OR '1'='1")}});
  ASSERT_TRUE(injected.ok());
  EXPECT_EQ(std::get<std::int64_t>(injected->rows[0][0]), 0);

  EXPECT_EQ(store_->Select("DELETE FROM renders", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Select("SELECT 1; DELETE FROM renders", {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Select("SELECT ?1", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Select("SELECT nonsense FROM", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RawSql(dir_.File("farm.db"), "SELECT count(*) FROM renders"), "3");
  EXPECT_TRUE(store_->Select("SELECT 1;  ", {}).ok());
}

TEST_F(StoreRenderResultsTest, MigrationBackfillsExistingSweeps) {
  // A database at schema 7 with a rendered, scored render: 0008 gives its sweep a row.
  store_.reset();
  const std::string path = dir_.File("old.db");
  testing_util::CreateDatabaseAtVersion(path, 7);
  const std::string image_sha = Sha256Hex("png-7");
  RawSql(path,
         "INSERT INTO sweeps (id, name, spec_yaml, spec_sha256, created_at, updated_at) "
         "VALUES (1, 'old', 'name: old', printf('%064d', 1), 1, 1);"
         "INSERT INTO identities (id, name, instance_token, photos_sha256, created_at) "
         "VALUES (1, 'ana', 'sks person', printf('%064d', 2), 1);"
         "INSERT INTO artifacts (id, sha256, size, path, media_type, created_at) "
         "VALUES (1, '" + image_sha + "', 5, 'png/7.png', 'image/png', 1);"
         "INSERT INTO jobs (id, sweep_id, kind, param_hash, params_json, state, created_at, "
         "updated_at) VALUES (1, 1, 'render', printf('%064d', 4), '{}', 'succeeded', 1, 1), "
         "(2, 1, 'score', printf('%064d', 5), '{}', 'succeeded', 1, 1);" +
         testing_util::OldRenderInsertSql(1, testing_util::SampleRender(0), 1, 1) +
         "INSERT INTO sweep_renders (sweep_id, render_id) VALUES (1, 1);"
         "INSERT INTO scores (render_id, identity_id, job_id, metric, model_version, similarity, "
         "faces_found, created_at) VALUES (1, 1, 2, 'cosine', 'v1', 0.42, 1, 1);");
  store_ = OpenOrDie(path);  // migrates 7 -> latest
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->migration_at_open().from_version, 7);
  auto row = store_->GetRenderResult(1, 1);
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(row->artifact_id, 1);
  EXPECT_EQ(row->image_sha256, image_sha);
  EXPECT_DOUBLE_EQ(row->score.value_or(-1), 0.42);
}

TEST_F(StoreRenderResultsTest, NightlyRunsAndLastGood) {
  CreatedSweep a = Sweep({RenderJob(0)});
  CreatedSweep b = Sweep({RenderJob(1)});
  CreatedSweep c = Sweep({RenderJob(2)});
  EXPECT_EQ(store_->GetLastGoodNightly("eval").status().code(), StatusCode::kNotFound);
  NightlyRun run;
  run.spec_name = "eval";
  run.sweep_id = a.sweep_id;
  run.verdict = NightlyVerdict::kFirst;
  run.summary_json = "{}";
  ASSERT_TRUE(store_->RecordNightlyRun(run).ok());
  run.sweep_id = b.sweep_id;
  run.baseline_sweep_id = a.sweep_id;
  run.verdict = NightlyVerdict::kPass;
  ASSERT_TRUE(store_->RecordNightlyRun(run).ok());
  run.sweep_id = c.sweep_id;
  run.baseline_sweep_id = b.sweep_id;
  run.verdict = NightlyVerdict::kFail;
  run.summary_json = "{\"mean_delta\":-0.05}";
  ASSERT_TRUE(store_->RecordNightlyRun(run).ok());
  auto good = store_->GetLastGoodNightly("eval");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->sweep_id, b.sweep_id);
  EXPECT_EQ(good->baseline_sweep_id, a.sweep_id);
  auto failed = store_->GetNightlyRun(c.sweep_id);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->verdict, NightlyVerdict::kFail);
  EXPECT_EQ(failed->summary_json, "{\"mean_delta\":-0.05}");
  run.summary_json = "not json";
  EXPECT_FALSE(store_->RecordNightlyRun(run).ok());
}

}  // namespace
}  // namespace farm::store
