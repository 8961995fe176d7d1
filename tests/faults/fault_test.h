// The fixture of the fault tests: a fresh directory per test for the farm's keys, logs
// and database, removed when the test passed (kept with its logs when it failed).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "farm/agent/synthetic_runner.h"
#include "farm/schemas/sha256.h"
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

// What the agent returns for a synthetic job: farmd offers the stored params without
// "stand_in_for", seeded by the job id (coordinator/farmd/src/decisions.cc), and the
// output is SyntheticBytes of those params. Empty with a test failure when unparsable.
inline std::string ExpectedSyntheticOutput(std::int64_t job_id, const std::string& params_json) {
  nlohmann::json params = nlohmann::json::parse(params_json, nullptr, false);
  EXPECT_TRUE(params.is_object()) << "job " << job_id << " params: " << params_json;
  if (!params.is_object()) return "";
  params.erase("stand_in_for");
  params["seed"] = job_id;
  params["fail"] = false;
  auto parsed = farm::agent::ParseSyntheticParams(params.dump());
  EXPECT_TRUE(parsed.ok()) << "job " << job_id << ": " << parsed.status().ToString();
  return parsed.ok() ? farm::agent::SyntheticBytes(*parsed) : "";
}

// Every succeeded job of the sweep has its own output stored: the artifact whose digest is
// that of the bytes the job must have produced, its file under `artifact_root` holding
// exactly those bytes (re-hashed here), and no artifact left that belongs to no job.
inline void ExpectEveryArtifactIsItsJobsOutput(const std::string& database,
                                               const std::filesystem::path& artifact_root,
                                               std::int64_t sweep_id) {
  auto db = FarmDb::OpenReadOnly(database);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto artifact_rows = (*db)->Rows("SELECT sha256, size, path FROM artifacts");
  ASSERT_TRUE(artifact_rows.ok()) << artifact_rows.status().ToString();
  std::map<std::string, std::vector<std::string>> artifacts;  // sha256 -> row
  for (const auto& row : *artifact_rows) artifacts[row[0]] = row;
  auto jobs = (*db)->Rows("SELECT id, params_json FROM jobs WHERE state = 'succeeded' AND sweep_id = " +
                          std::to_string(sweep_id));
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_FALSE(jobs->empty()) << "no succeeded job in sweep " << sweep_id;
  int without_artifact = 0, bad_files = 0;
  std::string first_problem;
  auto problem = [&first_problem](const std::string& text) {
    if (first_problem.empty()) first_problem = text;
  };
  for (const auto& job : *jobs) {
    const std::int64_t id = std::stoll(job[0]);
    const std::string bytes = ExpectedSyntheticOutput(id, job[1]);
    const std::string sha = farm::Sha256Hex(bytes);
    auto it = artifacts.find(sha);
    if (it == artifacts.end()) {
      ++without_artifact;
      problem("job " + job[0] + ": no artifact with the digest of its output " + sha);
      continue;
    }
    const std::vector<std::string> row = it->second;
    artifacts.erase(it);  // each artifact belongs to one job
    const std::filesystem::path file = artifact_root / row[2];
    auto on_disk = farm::Sha256File(file.string());
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (!on_disk.ok() || *on_disk != sha || ec || size != bytes.size() ||
        row[1] != std::to_string(bytes.size())) {
      ++bad_files;
      problem("job " + job[0] + ": artifact file " + file.string() + " (size " + row[1] +
              ") does not hold its " + std::to_string(bytes.size()) + " bytes with SHA-256 " +
              sha + (on_disk.ok() ? ", file hashes to " + *on_disk : ", " + on_disk.status().ToString()));
    }
  }
  EXPECT_EQ(without_artifact, 0) << first_problem;
  EXPECT_EQ(bad_files, 0) << first_problem;
  EXPECT_TRUE(artifacts.empty()) << artifacts.size() << " artifacts are no job's output, first "
                                 << (artifacts.empty() ? "" : artifacts.begin()->first);
}

}  // namespace farm_faults
