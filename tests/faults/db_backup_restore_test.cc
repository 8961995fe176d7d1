// `farmctl db backup` mid-sweep while farmd writes, then a restore: farmd stopped, the
// backup copied into place, a fresh farmd started on it, and the same agents finish the
// sweep. What the backup held is kept as it was (no job finished in it runs again), the
// leases open in it are settled by the new farmd, work finished after the backup is
// done again, and at the end every job is done exactly once with its own output.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "fault_test.h"
#include "test_farm_util.h"

namespace farm_faults {
namespace {

using std::chrono::seconds;

constexpr int kAgents = 2;
constexpr int kJobs = 600;
constexpr int kJobCpuMs = 5;  // long enough that the slots hold leases when the copy starts

using DbBackupRestoreTest = FaultTest;

struct CommandRun {
  int exit_code = -1;
  std::string out;
};

CommandRun RunCommand(const std::string& command) {
  CommandRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// (job, attempt) -> outcome ("open" while unfinished) of the sweep's attempts.
std::map<std::pair<std::int64_t, std::int64_t>, std::string> Attempts(const std::string& database,
                                                                      std::int64_t sweep) {
  std::map<std::pair<std::int64_t, std::int64_t>, std::string> attempts;
  auto db = FarmDb::OpenReadOnly(database);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return attempts;
  auto rows = (*db)->Rows(
      "SELECT a.job_id, a.attempt, coalesce(a.outcome, 'open') FROM attempts a"
      " JOIN jobs j ON a.job_id = j.id WHERE j.sweep_id = " + std::to_string(sweep));
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (!rows.ok()) return attempts;
  for (const auto& row : *rows) attempts[{std::stoll(row[0]), std::stoll(row[1])}] = row[2];
  return attempts;
}

TEST_F(DbBackupRestoreTest, BackupMidSweepRestoredIntoAFreshFarmdFinishesTheSweepOnce) {
  auto farm = TestFarm::Create(dir_, {.allowed_agents = kAgents});
  ASSERT_TRUE(farm.ok()) << farm.status().ToString();
  TestFarm& f = **farm;
  ASSERT_TRUE(f.StartFarmd().ok()) << f.LogTails();
  for (int i = 1; i <= kAgents; ++i) ASSERT_TRUE(f.StartAgent(i, 2).ok()) << f.LogTails();
  auto sweep = f.SubmitSweep(kJobs, kJobCpuMs);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << f.LogTails();

  // Back up at about a quarter of the sweep, while leases are out and farmd commits.
  {
    auto db = FarmDb::OpenReadOnly(f.database());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    const bool reached = WaitUntil(
        [&] {
          auto done = (*db)->SucceededJobs(*sweep);
          auto open = (*db)->Count("SELECT count(*) FROM attempts WHERE outcome IS NULL");
          return done.ok() && open.ok() && done->size() >= kJobs / 4 && *open > 0;
        },
        seconds(60), std::chrono::milliseconds(5));
    ASSERT_TRUE(reached) << "the sweep stalled before the backup\n" << f.LogTails();
  }
  const std::string backup = (dir_ / "backup.db").string();
  const CommandRun run = RunCommand(std::string(FARMCTL_PATH) + " db backup '" + backup +
                                    "' --db '" + f.database() + "' --json 2>/dev/null");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const nlohmann::json report = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << run.out;
  EXPECT_EQ(report.value("ok", false), true) << run.out;
  EXPECT_EQ(report.value("integrity_check", ""), "ok") << run.out;
  ASSERT_TRUE(f.FarmdRunning()) << "the backup disturbed farmd\n" << f.LogTails();

  const auto in_backup = Attempts(backup, *sweep);
  std::set<std::int64_t> done_in_backup;
  int open_in_backup = 0;
  for (const auto& [key, outcome] : in_backup) {
    if (outcome == "succeeded") done_in_backup.insert(key.first);
    if (outcome == "open") ++open_in_backup;
  }
  ASSERT_GE(done_in_backup.size(), static_cast<std::size_t>(kJobs / 4)) << "backup of an older state?";
  EXPECT_GT(open_in_backup, 0) << "no lease was out in the backup's snapshot";

  // Let the farm go on past the backup, so the restore rolls real work back.
  {
    auto db = FarmDb::OpenReadOnly(f.database());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    const bool advanced = WaitUntil(
        [&] {
          auto done = (*db)->SucceededJobs(*sweep);
          return done.ok() && done->size() >= done_in_backup.size() + 50;
        },
        seconds(60), std::chrono::milliseconds(5));
    ASSERT_TRUE(advanced) << "the sweep stalled after the backup\n" << f.LogTails();
  }

  // Restore: stop farmd, replace the database (its log and index too), start farmd.
  f.KillFarmd();
  std::error_code error;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(f.database() + suffix, error);
    ASSERT_FALSE(error) << f.database() << suffix << ": " << error.message();
  }
  std::filesystem::copy_file(backup, f.database(), error);
  ASSERT_FALSE(error) << error.message();
  ASSERT_TRUE(f.StartFarmd().ok()) << f.LogTails();

  auto counts = f.WaitForSweep(*sweep, seconds(120));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString() << f.LogTails();
  EXPECT_EQ(counts->succeeded, kJobs) << f.LogTails();
  for (int i = 1; i <= kAgents; ++i) EXPECT_TRUE(f.AgentRunning(i)) << "agent-" << i << " died";
  f.StopAll();

  ExpectEveryJobDoneOnce(f.database(), *sweep, kJobs);
  ExpectOneArtifactPerJob(f.database(), f.artifact_root(), kJobs);
  ExpectEveryArtifactIsItsJobsOutput(f.database(), f.artifact_root(), *sweep);
  // The backup's history is kept as it was: every attempt it had is still there with the
  // same outcome, except leases that were open, which the new farmd closed.
  const auto final_attempts = Attempts(f.database(), *sweep);
  int changed = 0, still_open = 0;
  std::map<std::string, int> settled;
  for (const auto& [key, outcome] : in_backup) {
    auto it = final_attempts.find(key);
    const std::string now = it == final_attempts.end() ? "missing" : it->second;
    if (outcome == "open") {
      if (now == "open" || now == "missing") ++still_open;
      ++settled[now];
    } else if (now != outcome) {
      ++changed;
    }
  }
  EXPECT_EQ(changed, 0) << "attempts finished in the backup changed after the restore";
  EXPECT_EQ(still_open, 0) << "a lease open in the backup was never settled";
  std::printf("backup held %zu finished jobs and %d open leases; those leases ended:",
              done_in_backup.size(), open_in_backup);
  for (const auto& [outcome, n] : settled) std::printf(" %d %s", n, outcome.c_str());
  std::printf("\n");
}

}  // namespace
}  // namespace farm_faults
