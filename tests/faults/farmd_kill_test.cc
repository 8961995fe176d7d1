// kill -9 of farmd three times during a sweep, each time restarted on the same database
// and agent port. The agents are never restarted: they must find the new farmd by
// themselves. Every kill lands while agents hold leases (open attempts on disk), every
// result on disk before a kill must still be there after the restart, each interrupted
// lease is closed by the farmd that follows, and at the end every job is done exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

#include "fault_test.h"
#include "test_farm_util.h"

namespace farm_faults {
namespace {

using std::chrono::seconds;

constexpr int kAgents = 2;
constexpr int kJobs = 1000;
constexpr int kKills = 3;
// Long enough that the four slots always hold leases whose results are not in yet.
constexpr int kJobCpuMs = 5;

using FarmdKillTest = FaultTest;

// (job, attempt) of the sweep's attempts that are still open on disk.
std::set<std::pair<std::int64_t, std::int64_t>> OpenAttempts(const FarmDb& db, std::int64_t sweep) {
  std::set<std::pair<std::int64_t, std::int64_t>> open;
  auto rows = db.Rows(
      "SELECT a.job_id, a.attempt FROM attempts a JOIN jobs j ON a.job_id = j.id"
      " WHERE a.outcome IS NULL AND j.sweep_id = " + std::to_string(sweep));
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (rows.ok()) {
    for (const auto& row : *rows) open.insert({std::stoll(row[0]), std::stoll(row[1])});
  }
  return open;
}

std::set<std::int64_t> Missing(const std::set<std::int64_t>& before,
                               const std::set<std::int64_t>& after) {
  std::set<std::int64_t> missing;
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::inserter(missing, missing.begin()));
  return missing;
}

TEST_F(FarmdKillTest, FinishedResultsSurviveEveryKillAndTheSweepCompletesOnce) {
  auto farm = TestFarm::Create(dir_, {.allowed_agents = kAgents});
  ASSERT_TRUE(farm.ok()) << farm.status().ToString();
  TestFarm& f = **farm;
  ASSERT_TRUE(f.StartFarmd().ok());
  for (int i = 1; i <= kAgents; ++i) ASSERT_TRUE(f.StartAgent(i, 2).ok());
  auto sweep = f.SubmitSweep(kJobs, kJobCpuMs);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << f.LogTails();
  auto db = FarmDb::OpenReadOnly(f.database());
  ASSERT_TRUE(db.ok()) << db.status().ToString();

  std::set<std::int64_t> kept;  // every job id seen finished on disk so far
  // Per kill, the (job, attempt) leases open on disk right after it.
  std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> interrupted;
  for (int kill = 1; kill <= kKills; ++kill) {
    // Kill at 20 %, 40 %, 60 % of the sweep, so each farmd has work in flight.
    const std::int64_t target = kJobs * kill / 5;
    // ... at a moment when leases are out.
    const bool reached = WaitUntil(
        [&] {
          auto done = (*db)->SucceededJobs(*sweep);
          return done.ok() && static_cast<std::int64_t>(done->size()) >= target &&
                 !OpenAttempts(**db, *sweep).empty();
        },
        seconds(60), std::chrono::milliseconds(5));
    ASSERT_TRUE(reached) << "kill " << kill << ": the sweep stalled below " << target << "\n"
                         << f.LogTails();
    auto before = (*db)->SucceededJobs(*sweep);
    ASSERT_TRUE(before.ok()) << before.status().ToString();
    f.KillFarmd();
    kept.insert(before->begin(), before->end());
    // What the dead farmd left on disk is what the kill interrupted: leased work.
    const auto open_at_kill = OpenAttempts(**db, *sweep);
    EXPECT_FALSE(open_at_kill.empty()) << "kill " << kill << " interrupted no leased work";
    interrupted.emplace_back(open_at_kill.begin(), open_at_kill.end());

    auto after_kill = (*db)->SucceededJobs(*sweep);
    ASSERT_TRUE(after_kill.ok()) << after_kill.status().ToString();
    EXPECT_TRUE(Missing(kept, *after_kill).empty()) << "lost by the kill itself";

    ASSERT_TRUE(f.StartFarmd().ok()) << f.LogTails();
    auto after_restart = (*db)->SucceededJobs(*sweep);
    ASSERT_TRUE(after_restart.ok()) << after_restart.status().ToString();
    const auto lost = Missing(kept, *after_restart);
    EXPECT_TRUE(lost.empty()) << lost.size() << " finished jobs lost after restart " << kill
                              << ", first " << *lost.begin();
  }

  auto counts = f.WaitForSweep(*sweep, seconds(90));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->succeeded, kJobs);
  // The same agent processes did the rest of the work: they reconnected by themselves.
  for (int i = 1; i <= kAgents; ++i) EXPECT_TRUE(f.AgentRunning(i)) << "agent-" << i << " died";
  auto agents = f.ApiGet("/api/v1/agents");
  ASSERT_TRUE(agents.ok()) << agents.status().ToString();
  int online = 0;
  for (const auto& agent : agents->value("agents", nlohmann::json::array())) {
    online += agent.value("state", "") == "online" ? 1 : 0;
  }
  EXPECT_EQ(online, kAgents) << agents->dump();
  f.StopAll();

  auto final_jobs = (*db)->SucceededJobs(*sweep);
  ASSERT_TRUE(final_jobs.ok());
  EXPECT_TRUE(Missing(kept, *final_jobs).empty());
  ExpectEveryJobDoneOnce(f.database(), *sweep, kJobs);
  ExpectOneArtifactPerJob(f.database(), f.artifact_root(), kJobs);
  ExpectEveryArtifactIsItsJobsOutput(f.database(), f.artifact_root(), *sweep);
  auto succeeded_sweeps = (*db)->Count("SELECT count(*) FROM sweeps WHERE state = 'succeeded'");
  ASSERT_TRUE(succeeded_sweeps.ok());
  EXPECT_EQ(*succeeded_sweeps, 1) << "the sweep itself is not marked succeeded";
  // Each interrupted lease was settled by a later farmd: its result accepted after the
  // agent resent it, or expired and the job run again.
  ASSERT_EQ(interrupted.size(), static_cast<std::size_t>(kKills));
  for (int kill = 1; kill <= kKills; ++kill) {
    std::map<std::string, int> outcomes;
    for (const auto& [job, attempt] : interrupted[kill - 1]) {
      auto outcome = (*db)->Texts("SELECT coalesce(outcome, 'open') FROM attempts WHERE job_id = " +
                                  std::to_string(job) + " AND attempt = " + std::to_string(attempt));
      ASSERT_TRUE(outcome.ok() && outcome->size() == 1) << "job " << job << " attempt " << attempt;
      ++outcomes[*outcome->begin()];
    }
    EXPECT_EQ(outcomes.count("open"), 0u) << "kill " << kill << ": a lease stayed open";
    std::printf("kill %d interrupted %zu leases:", kill, interrupted[kill - 1].size());
    for (const auto& [outcome, n] : outcomes) std::printf(" %d %s", n, outcome.c_str());
    std::printf("\n");
  }
}

}  // namespace
}  // namespace farm_faults
