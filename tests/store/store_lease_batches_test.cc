// Store::StartAttempts, FinishAttempts and SetJobArtifacts: the multi-row forms farmd's
// group commit uses. Same rows and fencing as the row-by-row methods; all rows or none.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using ::testing::HasSubstr;
using testing_util::OpenOrDie;
using testing_util::TempDir;

class StoreLeaseBatchesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenOrDie(dir_.File("farm.db"));
    ASSERT_NE(store_, nullptr);
    NewSweep sweep;
    sweep.name = "batches";
    sweep.spec_yaml = "name: batches\n";
    // More jobs than one statement takes (64 rows), so the chunks are exercised too.
    for (int i = 0; i < kJobs; ++i) {
      NewJob job;
      job.kind = JobKind::kSynthetic;
      job.params_json = "{\"seed\":" + std::to_string(i) + "}";
      job.param_hash = Sha256Hex(job.params_json);
      sweep.jobs.push_back(job);
    }
    auto created = store_->CreateSweep(sweep);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    jobs_ = created->jobs.job_ids;
    ASSERT_TRUE(store_->UpsertAgent({"a1", "host-1", "cpu", 0, 2, "test"}).ok());
  }

  std::vector<Store::NewLease> Leases(int attempt) const {
    std::vector<Store::NewLease> leases;
    for (std::int64_t job : jobs_) leases.push_back({job, attempt, "a1", 1'800'000'000'000});
    return leases;
  }

  static constexpr int kJobs = 100;
  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::vector<std::int64_t> jobs_;
};

TEST_F(StoreLeaseBatchesTest, StartAndFinishManyLeasesAsRowByRow) {
  ASSERT_TRUE(store_->StartAttempts(Leases(1)).ok());
  auto open = store_->ListOpenAttempts();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), static_cast<std::size_t>(kJobs));
  for (std::int64_t job : jobs_) {
    auto row = store_->GetJob(job);
    ASSERT_TRUE(row.ok());
    EXPECT_EQ(row->state, JobState::kLeased);
    EXPECT_EQ(row->attempt_count, 1);
  }
  // Half succeed, half expire and go back to the queue with the reason.
  std::vector<Store::EndedLease> ended;
  for (int i = 0; i < kJobs; ++i) {
    const bool ok = i % 2 == 0;
    // Every fourth expired one is not held against its job (counted false).
    ended.push_back({jobs_[i], 1, ok ? AttemptOutcome::kSucceeded : AttemptOutcome::kExpired,
                     ok ? "" : "deadline passed", ok ? JobState::kSucceeded : JobState::kQueued,
                     /*counted=*/i % 4 != 1});
  }
  ASSERT_TRUE(store_->FinishAttempts(ended).ok());
  EXPECT_TRUE(store_->ListOpenAttempts()->empty());
  EXPECT_EQ(*store_->CountAttempts(AttemptOutcome::kSucceeded), kJobs / 2);
  EXPECT_EQ(*store_->CountAttempts(AttemptOutcome::kExpired), kJobs / 2);
  auto expired = store_->GetJob(jobs_[1]);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->state, JobState::kQueued);
  EXPECT_EQ(expired->last_error, "deadline passed");
  auto attempts = store_->ListAttempts(jobs_[1]);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].agent_id, "a1");
  EXPECT_EQ((*attempts)[0].error, "deadline passed");
  EXPECT_EQ((*attempts)[0].deadline_ms, 1'800'000'000'000);
  EXPECT_TRUE((*attempts)[0].finished_at_ms.has_value());
  EXPECT_FALSE((*attempts)[0].counted);
  EXPECT_TRUE((*store_->ListAttempts(jobs_[3]))[0].counted);
  // The requeued one is leased again as attempt 2.
  ASSERT_TRUE(store_->StartAttempts({{jobs_[1], 2, "a1", 1'800'000'000'000}}).ok());
  EXPECT_EQ(store_->GetJob(jobs_[1])->attempt_count, 2);
}

TEST_F(StoreLeaseBatchesTest, OneRefusedRowWritesNothing) {
  // A job that is not queued: none of the leases is started.
  ASSERT_TRUE(store_->StartAttempt(jobs_[70], "a1", 1'800'000'000'000).ok());
  std::vector<Store::NewLease> leases = Leases(1);
  leases.erase(leases.begin() + 70);
  leases.push_back({jobs_[70], 1, "a1", 1'800'000'000'000});
  Status started = store_->StartAttempts(leases);
  EXPECT_EQ(started.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.message(), HasSubstr("not queued"));
  EXPECT_EQ(store_->ListOpenAttempts()->size(), 1u);
  EXPECT_EQ(store_->GetJob(jobs_[0])->state, JobState::kQueued);

  // An attempt number that is not the next one, and an unknown agent.
  EXPECT_EQ(store_->StartAttempts({{jobs_[0], 2, "a1", 1'800'000'000'000}}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_FALSE(store_->StartAttempts({{jobs_[0], 1, "ghost", 1'800'000'000'000}}).ok());
  EXPECT_EQ(store_->GetJob(jobs_[0])->state, JobState::kQueued);
  EXPECT_EQ(store_->ListOpenAttempts()->size(), 1u);

  // Fencing: a stale attempt among current ones ends none of them.
  ASSERT_TRUE(store_
                  ->StartAttempts({{jobs_[0], 1, "a1", 1'800'000'000'000},
                                   {jobs_[1], 1, "a1", 1'800'000'000'000}})
                  .ok());
  ASSERT_TRUE(
      store_->FinishAttempt(jobs_[1], 1, AttemptOutcome::kExpired, "lost", JobState::kQueued).ok());
  Status finished =
      store_->FinishAttempts({{jobs_[0], 1, AttemptOutcome::kSucceeded, "", JobState::kSucceeded},
                              {jobs_[1], 1, AttemptOutcome::kSucceeded, "", JobState::kSucceeded}});
  EXPECT_EQ(finished.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(finished.message(), HasSubstr("stale lease"));
  EXPECT_EQ(store_->GetJob(jobs_[0])->state, JobState::kLeased);
  EXPECT_EQ(store_->GetJob(jobs_[1])->state, JobState::kQueued);
  EXPECT_EQ(*store_->CountAttempts(AttemptOutcome::kSucceeded), 0);
}

TEST_F(StoreLeaseBatchesTest, MetricsWrittenWithTheAttemptsEnd) {
  ASSERT_TRUE(store_->StartAttempts(Leases(1)).ok());
  // Set before the end (SetAttemptMetrics): a row without metrics keeps it.
  ASSERT_TRUE(store_->SetAttemptMetrics(jobs_[2], 1, R"({"seconds_total":9})").ok());
  // Every third row carries metrics, across more than one chunk; the last job stays open.
  const int last = kJobs - 1;
  auto metrics_of = [](int i) { return R"({"seconds_total":)" + std::to_string(i) + "}"; };
  std::vector<Store::EndedLease> ended;
  for (int i = 0; i < last; ++i) {
    Store::EndedLease end{jobs_[i], 1, AttemptOutcome::kSucceeded, "", JobState::kSucceeded};
    if (i % 3 == 0) end.metrics_json = metrics_of(i);
    ended.push_back(end);
  }
  ASSERT_TRUE(store_->FinishAttempts(ended).ok());
  const std::string db = dir_.File("farm.db");
  auto metrics_type = [&](int i) {
    return testing_util::RawSql(
        db, "SELECT typeof(metrics_json) FROM attempts WHERE job_id = " + std::to_string(jobs_[i]));
  };
  for (int i = 0; i < kJobs; ++i) {
    auto attempts = store_->ListAttempts(jobs_[i]);
    ASSERT_TRUE(attempts.ok());
    ASSERT_EQ(attempts->size(), 1u);
    if (i != last && i % 3 == 0) {
      EXPECT_EQ((*attempts)[0].metrics_json, metrics_of(i)) << "job index " << i;
    } else if (i == 2) {
      EXPECT_EQ((*attempts)[0].metrics_json, R"({"seconds_total":9})");
    } else {
      EXPECT_EQ(metrics_type(i), "null") << "job index " << i;
    }
  }

  // A stale row refuses the call: the current row's metrics are rolled back with its end,
  // and the stale attempt's metrics stay as they were.
  Status finished = store_->FinishAttempts(
      {{jobs_[last], 1, AttemptOutcome::kSucceeded, "", JobState::kSucceeded, true, R"({"a":1})"},
       {jobs_[0], 1, AttemptOutcome::kSucceeded, "", JobState::kSucceeded, true, R"({"b":2})"}});
  EXPECT_EQ(finished.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(metrics_type(last), "null");
  EXPECT_EQ(store_->ListOpenAttempts()->size(), 1u);
  EXPECT_EQ((*store_->ListAttempts(jobs_[0]))[0].metrics_json, metrics_of(0));
}

TEST_F(StoreLeaseBatchesTest, JobArtifactsInOneCall) {
  NewArtifact artifact;
  artifact.sha256 = Sha256Hex("bytes");
  artifact.size = 5;
  artifact.path = "ab/cd/x";
  artifact.media_type = "application/octet-stream";
  auto id = store_->InsertArtifact(artifact);
  ASSERT_TRUE(id.ok());
  std::vector<Store::JobArtifactLink> links;
  for (std::int64_t job : jobs_) links.push_back({job, "output", *id});
  ASSERT_TRUE(store_->SetJobArtifacts(links).ok());
  for (std::int64_t job : {jobs_[0], jobs_[99]}) {
    auto outputs = store_->ListJobArtifacts(job);
    ASSERT_TRUE(outputs.ok());
    ASSERT_EQ(outputs->size(), 1u);
    EXPECT_EQ((*outputs)[0].artifact.id, *id);
  }
  EXPECT_EQ(store_->SetJobArtifacts({{jobs_[0], "", *id}}).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_->SetJobArtifacts({{jobs_[0], "x", *id + 100}}).ok());  // foreign key
}

}  // namespace
}  // namespace farm::store
