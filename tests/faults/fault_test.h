// The fixture of the fault tests: a fresh directory per test for the farm's keys, logs
// and database, removed when the test passed (kept with its logs when it failed).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "farm_db_util.h"

namespace farm_faults {

class FaultTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(testing::TempDir()) /
           ("faults_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    std::error_code ignored;
    if (!HasFailure()) std::filesystem::remove_all(dir_, ignored);
  }

  std::filesystem::path dir_;
};

// Every job of the sweep succeeded exactly once, with consistent attempts, on disk.
inline void ExpectEveryJobDoneOnce(const std::string& database, std::int64_t sweep_id,
                                   std::int64_t jobs) {
  auto ledger = CheckLedger(database, sweep_id);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  EXPECT_EQ(ledger->jobs, jobs) << ledger->ToString();
  EXPECT_EQ(ledger->not_succeeded, 0) << ledger->ToString();
  EXPECT_EQ(ledger->success_count_not_one, 0) << ledger->ToString();
  EXPECT_EQ(ledger->attempts_inconsistent, 0) << ledger->ToString();
  EXPECT_EQ(ledger->open_attempts, 0) << ledger->ToString();
  EXPECT_EQ(ledger->success_not_last, 0) << ledger->ToString();
}

// Every succeeded job's output is stored: synthetic outputs are seeded by the job id, so
// a sweep of `jobs` jobs (the database's only one) leaves exactly `jobs` artifacts, each
// file present under `artifact_root`.
inline void ExpectOneArtifactPerJob(const std::string& database,
                                    const std::filesystem::path& artifact_root,
                                    std::int64_t jobs) {
  auto db = FarmDb::OpenReadOnly(database);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto paths = (*db)->Texts("SELECT path FROM artifacts");
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(static_cast<std::int64_t>(paths->size()), jobs) << "results stored without output";
  int missing = 0;
  for (const std::string& path : *paths) {
    if (!std::filesystem::exists(artifact_root / path)) ++missing;
  }
  EXPECT_EQ(missing, 0) << "artifact files missing under " << artifact_root;
}

}  // namespace farm_faults
