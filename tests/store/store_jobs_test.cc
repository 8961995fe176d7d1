// Sweeps, jobs, dependencies and leases: round trips, render sharing, atomicity, fencing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_util::OpenOrDie;
using testing_util::RawSql;
using testing_util::SampleRender;
using testing_util::TempDir;

NewJob TrainJob() {
  TrainParams train;
  train.identity = "ana";
  train.photos_sha256 = Sha256Hex("photos");
  train.instance_token = "sks person";
  train.checkpoint_sha256 = Sha256Hex("checkpoint");
  train.save_steps = {800, 1600};
  NewJob job;
  job.kind = JobKind::kTrain;
  job.params_json = ToCanonicalJson(train).value();
  job.param_hash = Sha256Hex(job.params_json);
  job.priority = 5;
  return job;
}

NewJob RenderJob(int i, std::vector<std::size_t> deps = {}) {
  NewJob job;
  job.kind = JobKind::kRender;
  job.render = SampleRender(i);
  job.deps = std::move(deps);
  return job;
}

class StoreJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("farm.db");
    store_ = OpenOrDie(path_);
    ASSERT_NE(store_, nullptr);
  }
  StatusOr<CreatedSweep> Create(const std::string& name, std::vector<NewJob> jobs) {
    NewSweep sweep;
    sweep.name = name;
    sweep.spec_yaml = "name: " + name + "\n";
    sweep.priority = 3;
    sweep.jobs = std::move(jobs);
    return store_->CreateSweep(sweep);
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreJobsTest, CreateSweepRoundTrip) {
  auto created = Create("tone-study", {TrainJob(), RenderJob(1, {0}), RenderJob(2, {0})});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->jobs.jobs_created, 3);
  EXPECT_EQ(created->jobs.renders_created, 2);
  EXPECT_EQ(created->jobs.renders_shared, 0);
  ASSERT_EQ(created->jobs.job_ids.size(), 3u);
  EXPECT_EQ(created->jobs.render_ids[0], 0);

  auto sweep = store_->GetSweep(created->sweep_id);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString();
  EXPECT_EQ(sweep->name, "tone-study");
  EXPECT_EQ(sweep->spec_yaml, "name: tone-study\n");
  EXPECT_EQ(sweep->spec_sha256, Sha256Hex("name: tone-study\n"));
  EXPECT_EQ(sweep->priority, 3);
  EXPECT_EQ(sweep->state, SweepState::kQueued);
  EXPECT_GT(sweep->created_at_ms, 0);

  JobFilter filter;
  filter.sweep_id = created->sweep_id;
  auto jobs = store_->ListJobs(filter);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 3u);
  const Job& train = (*jobs)[0];
  EXPECT_EQ(train.id, created->jobs.job_ids[0]);
  EXPECT_EQ(train.kind, JobKind::kTrain);
  EXPECT_EQ(train.state, JobState::kQueued);
  EXPECT_EQ(train.priority, 5);
  EXPECT_EQ(train.param_hash, Sha256Hex(train.params_json));
  EXPECT_EQ(train.attempt_count, 0);
  EXPECT_TRUE(train.last_error.empty());

  const Job& render = (*jobs)[1];
  EXPECT_EQ(render.kind, JobKind::kRender);
  EXPECT_EQ(render.param_hash, ParamHash(SampleRender(1)).value());
  EXPECT_EQ(render.params_json, ToCanonicalJson(SampleRender(1)).value());
  auto deps = store_->ListJobDeps(render.id);
  ASSERT_TRUE(deps.ok());
  EXPECT_THAT(*deps, ElementsAre(train.id));

  auto render_row = store_->GetRender(created->jobs.render_ids[1]);
  ASSERT_TRUE(render_row.ok()) << render_row.status().ToString();
  EXPECT_EQ(render_row->job_id, render.id);
  RenderFilter in_sweep;
  in_sweep.sweep_id = created->sweep_id;
  auto linked = store_->ListRenders(in_sweep);
  ASSERT_TRUE(linked.ok());
  EXPECT_EQ(linked->size(), 2u);
}

TEST_F(StoreJobsTest, RendersAreSharedAcrossSweepsUnlessTheirJobFailed) {
  auto first = Create("first", {RenderJob(1), RenderJob(2)});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(store_->SetJobState(first->jobs.job_ids[1], JobState::kFailed).ok());

  auto second = Create(
      "second", {RenderJob(1), RenderJob(2), RenderJob(3), RenderJob(3)});  // 3 twice in one sweep
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  const InsertedJobs& jobs = second->jobs;
  // Render 1 is queued in the first sweep: shared, no new job.
  EXPECT_EQ(jobs.job_ids[0], first->jobs.job_ids[0]);
  EXPECT_EQ(jobs.render_ids[0], first->jobs.render_ids[0]);
  // Render 2's job failed: a new job renders the same row again.
  EXPECT_NE(jobs.job_ids[1], first->jobs.job_ids[1]);
  EXPECT_EQ(jobs.render_ids[1], first->jobs.render_ids[1]);
  EXPECT_EQ(store_->GetRender(jobs.render_ids[1])->job_id, jobs.job_ids[1]);
  // Render 3 is new, and its repeat inside the sweep shares the first.
  EXPECT_EQ(jobs.job_ids[3], jobs.job_ids[2]);
  EXPECT_EQ(jobs.render_ids[3], jobs.render_ids[2]);
  EXPECT_EQ(jobs.jobs_created, 2);
  EXPECT_EQ(jobs.renders_created, 1);
  EXPECT_EQ(jobs.renders_shared, 2);

  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM renders"), "3");
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM sweep_renders WHERE sweep_id = " +
                              std::to_string(second->sweep_id)),
            "3");
}

TEST_F(StoreJobsTest, RenderedRecordNeedsNoNewJobAndDropsDeps) {
  auto first = Create("first", {RenderJob(1)});
  ASSERT_TRUE(first.ok());
  auto artifact = store_->InsertArtifact({Sha256Hex("png"), 10, "renders/ab/x.png", "image/png"});
  ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
  ASSERT_TRUE(store_->SetRenderArtifact(first->jobs.render_ids[0], *artifact).ok());
  ASSERT_TRUE(store_->SetJobState(first->jobs.job_ids[0], JobState::kCancelled).ok());

  auto second = Create("second", {TrainJob(), RenderJob(1, {0})});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->jobs.jobs_created, 1);  // only the train job
  EXPECT_EQ(second->jobs.renders_shared, 1);
  EXPECT_EQ(second->jobs.job_ids[1], first->jobs.job_ids[0]);
  auto deps = store_->ListJobDeps(first->jobs.job_ids[0]);
  ASSERT_TRUE(deps.ok());
  EXPECT_TRUE(deps->empty());
}

TEST_F(StoreJobsTest, InvalidInputWritesNothing) {
  NewJob wrong_hash = TrainJob();
  wrong_hash.param_hash = "ABC";
  auto bad_hash = Create("bad-hash", {wrong_hash});
  ASSERT_FALSE(bad_hash.ok());
  EXPECT_EQ(bad_hash.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_hash.status().message(), HasSubstr("job #0"));

  auto forward_dep = Create("forward-dep", {RenderJob(1, {1}), TrainJob()});
  ASSERT_FALSE(forward_dep.ok());
  EXPECT_EQ(forward_dep.status().code(), StatusCode::kInvalidArgument);

  NewJob no_params;
  no_params.kind = JobKind::kRender;
  EXPECT_EQ(Create("no-params", {no_params}).status().code(), StatusCode::kInvalidArgument);

  // Valid until the database refuses the third job: the whole sweep rolls back.
  NewJob bad_render = RenderJob(3);
  bad_render.render->width = -1;
  auto rolled_back = Create("rolled-back", {TrainJob(), RenderJob(2), bad_render});
  ASSERT_FALSE(rolled_back.ok());
  EXPECT_EQ(rolled_back.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(rolled_back.status().message(), HasSubstr(path_));
  for (const char* table : {"sweeps", "jobs", "renders", "sweep_renders", "job_deps"}) {
    EXPECT_EQ(RawSql(path_, std::string("SELECT count(*) FROM ") + table), "0") << table;
  }
}

TEST_F(StoreJobsTest, ListFiltersAndStates) {
  auto first = Create("a", {TrainJob(), RenderJob(1), RenderJob(2), RenderJob(3)});
  auto second = Create("b", {RenderJob(4)});
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(store_->SetJobState(first->jobs.job_ids[2], JobState::kSkipped).ok());
  EXPECT_EQ(store_->SetJobState(999, JobState::kFailed).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->SetSweepState(second->sweep_id, SweepState::kRunning).ok());
  EXPECT_EQ(store_->SetSweepState(999, SweepState::kFailed).code(), StatusCode::kNotFound);

  JobFilter renders;
  renders.sweep_id = first->sweep_id;
  renders.kind = JobKind::kRender;
  renders.state = JobState::kQueued;
  auto queued = store_->ListJobs(renders);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ((*queued)[0].id, first->jobs.job_ids[1]);
  EXPECT_EQ((*queued)[1].id, first->jobs.job_ids[3]);

  JobFilter page;
  page.limit = 2;
  auto page1 = store_->ListJobs(page);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  page.after_id = page1->back().id;
  auto page2 = store_->ListJobs(page);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_GT(page2->front().id, page1->back().id);
  page.after_id = page2->back().id;
  EXPECT_EQ(store_->ListJobs(page)->size(), 1u);

  auto sweeps = store_->ListSweeps();
  ASSERT_TRUE(sweeps.ok());
  ASSERT_EQ(sweeps->size(), 2u);
  EXPECT_EQ((*sweeps)[0].name, "b");  // newest first
  EXPECT_EQ((*sweeps)[0].state, SweepState::kRunning);
  EXPECT_EQ(store_->ListSweeps(1)->size(), 1u);

  auto all_counts = store_->CountJobsByState();
  ASSERT_TRUE(all_counts.ok()) << all_counts.status().ToString();
  EXPECT_EQ(*all_counts, (std::map<JobState, std::int64_t>{{JobState::kQueued, 4}, {JobState::kSkipped, 1}}));
  auto first_counts = store_->CountJobsByState(first->sweep_id);
  ASSERT_TRUE(first_counts.ok());
  EXPECT_EQ(*first_counts, (std::map<JobState, std::int64_t>{{JobState::kQueued, 3}, {JobState::kSkipped, 1}}));
  EXPECT_TRUE(store_->CountJobsByState(12345)->empty());
  EXPECT_EQ(store_->GetSweep(12345).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetJob(12345).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreJobsTest, LeasesAreFenced) {
  auto created = Create("leases", {TrainJob()});
  ASSERT_TRUE(created.ok());
  const std::int64_t job = created->jobs.job_ids[0];
  EXPECT_EQ(store_->StartAttempt(job, "ghost", 10).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->UpsertAgent({"agent-a", "host-a", "cuda", 80LL << 30, 16, "0.1.0"}).ok());
  ASSERT_TRUE(store_->UpsertAgent({"agent-b", "host-b", "cpu", 64LL << 30, 8, "0.1.0"}).ok());

  auto first = store_->StartAttempt(job, "agent-a", 1'700'000'100'000);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->attempt, 1);
  EXPECT_EQ(store_->GetJob(job)->state, JobState::kLeased);
  EXPECT_EQ(store_->StartAttempt(job, "agent-b", 1).status().code(),
            StatusCode::kFailedPrecondition);
  ASSERT_EQ(store_->ListOpenAttempts()->size(), 1u);

  // The lease expires (not held against the job: counted false); the job is requeued and
  // leased again.
  ASSERT_TRUE(store_
                  ->FinishAttempt(job, 1, AttemptOutcome::kExpired, "deadline passed",
                                  JobState::kQueued, /*counted=*/false)
                  .ok());
  auto second = store_->StartAttempt(job, "agent-b", 1'700'000'200'000);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->attempt, 2);

  // The first agent's late result is ignored, and so is a duplicate of the second's.
  Status late = store_->FinishAttempt(job, 1, AttemptOutcome::kSucceeded, "", JobState::kSucceeded);
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.message(), HasSubstr("stale lease"));
  ASSERT_TRUE(
      store_->FinishAttempt(job, 2, AttemptOutcome::kSucceeded, "", JobState::kSucceeded).ok());
  EXPECT_EQ(store_->FinishAttempt(job, 2, AttemptOutcome::kFailed, "dup", JobState::kFailed).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->FinishAttempt(job, 7, AttemptOutcome::kFailed, "", JobState::kFailed).code(),
            StatusCode::kNotFound);

  EXPECT_EQ(*store_->CountAttempts(AttemptOutcome::kSucceeded), 1);
  EXPECT_EQ(*store_->CountAttempts(AttemptOutcome::kExpired), 1);
  EXPECT_EQ(*store_->CountAttempts(AttemptOutcome::kFailed), 0);

  auto final_job = store_->GetJob(job);
  ASSERT_TRUE(final_job.ok());
  EXPECT_EQ(final_job->state, JobState::kSucceeded);
  EXPECT_EQ(final_job->attempt_count, 2);
  EXPECT_EQ(final_job->last_error, "deadline passed");

  auto attempts = store_->ListAttempts(job);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_FALSE((*attempts)[0].counted);
  EXPECT_TRUE((*attempts)[1].counted);
  EXPECT_EQ((*attempts)[0].agent_id, "agent-a");
  EXPECT_EQ((*attempts)[0].outcome, AttemptOutcome::kExpired);
  EXPECT_EQ((*attempts)[0].error, "deadline passed");
  EXPECT_EQ((*attempts)[0].deadline_ms, 1'700'000'100'000);
  EXPECT_TRUE((*attempts)[0].finished_at_ms.has_value());
  EXPECT_EQ((*attempts)[1].agent_id, "agent-b");
  EXPECT_EQ((*attempts)[1].outcome, AttemptOutcome::kSucceeded);
  EXPECT_TRUE(store_->ListOpenAttempts()->empty());

  // The agent's metrics of an attempt are kept with it.
  EXPECT_TRUE((*attempts)[1].metrics_json.empty());
  ASSERT_TRUE(store_->SetAttemptMetrics(job, 2, R"({"seconds_total":1.5})").ok());
  EXPECT_EQ(store_->ListAttempts(job)->at(1).metrics_json, R"({"seconds_total":1.5})");
  EXPECT_EQ(store_->SetAttemptMetrics(job, 9, "{}").code(), StatusCode::kNotFound);
}

TEST_F(StoreJobsTest, WriteTransactionGroupsCallsAndRollsBack) {
  {
    auto transaction = store_->BeginWrite();
    ASSERT_TRUE(transaction.ok()) << transaction.status().ToString();
    EXPECT_EQ(store_->BeginWrite().status().code(), StatusCode::kFailedPrecondition);
    ASSERT_TRUE(Create("kept", {RenderJob(1)}).ok());
    // A failing call inside the transaction undoes only itself.
    EXPECT_FALSE(Create("", {}).ok());
    NewJob bad = RenderJob(2);
    bad.render->steps = -3;
    EXPECT_FALSE(Create("bad", {bad}).ok());
    ASSERT_TRUE(store_->UpsertAgent({"agent-a", "h", "cpu", 1, 1, "v"}).ok());
    EXPECT_TRUE(transaction->Commit().ok());
    EXPECT_EQ(transaction->Commit().code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(RawSql(path_, "SELECT group_concat(name) FROM sweeps"), "kept");
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM agents"), "1");
  {
    auto transaction = store_->BeginWrite();
    ASSERT_TRUE(transaction.ok());
    ASSERT_TRUE(Create("dropped", {RenderJob(3)}).ok());
  }  // destroyed without Commit
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM sweeps"), "1");
  EXPECT_EQ(RawSql(path_, "SELECT count(*) FROM renders"), "1");
  // The store is usable afterwards.
  EXPECT_TRUE(Create("after", {RenderJob(4)}).ok());
}

}  // namespace
}  // namespace farm::store
