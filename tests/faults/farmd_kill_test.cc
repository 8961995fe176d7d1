// kill -9 of farmd three times during a sweep, each time restarted on the same database
// and agent port. The agents are never restarted: they must find the new farmd by
// themselves. Every result on disk before a kill must still be there after the restart,
// and at the end every job is done exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>

#include "fault_test.h"
#include "test_farm_util.h"

namespace farm_faults {
namespace {

using std::chrono::seconds;

constexpr int kAgents = 2;
constexpr int kJobs = 1000;
constexpr int kKills = 3;

using FarmdKillTest = FaultTest;

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
  auto sweep = f.SubmitSweep(kJobs, 1);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << f.LogTails();
  auto db = FarmDb::OpenReadOnly(f.database());
  ASSERT_TRUE(db.ok()) << db.status().ToString();

  std::set<std::int64_t> kept;  // every job id seen finished on disk so far
  for (int kill = 1; kill <= kKills; ++kill) {
    // Kill at 20 %, 40 %, 60 % of the sweep, so each farmd has work in flight.
    const std::int64_t target = kJobs * kill / 5;
    const bool reached = WaitUntil(
        [&] {
          auto done = (*db)->SucceededJobs(*sweep);
          return done.ok() && static_cast<std::int64_t>(done->size()) >= target;
        },
        seconds(60));
    ASSERT_TRUE(reached) << "kill " << kill << ": the sweep stalled below " << target << "\n"
                         << f.LogTails();
    auto before = (*db)->SucceededJobs(*sweep);
    ASSERT_TRUE(before.ok()) << before.status().ToString();
    f.KillFarmd();
    kept.insert(before->begin(), before->end());

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
  auto succeeded_sweeps = (*db)->Count("SELECT count(*) FROM sweeps WHERE state = 'succeeded'");
  ASSERT_TRUE(succeeded_sweeps.ok());
  EXPECT_EQ(*succeeded_sweeps, 1) << "the sweep itself is not marked succeeded";
  auto interrupted = (*db)->Count("SELECT count(*) FROM attempts WHERE outcome <> 'succeeded'");
  ASSERT_TRUE(interrupted.ok());
  std::printf("%d farmd kills, %lld attempts without a result\n", kKills,
              static_cast<long long>(*interrupted));
}

}  // namespace
}  // namespace farm_faults
