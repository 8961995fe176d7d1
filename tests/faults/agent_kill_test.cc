// kill -9 of random agents, over and over, during a 2,000-job synthetic sweep: each killed
// agent is replaced at once by a new process with the same id and key (it registers
// again and farmd requeues what the dead one held). The sweep must complete with every
// job done exactly once, as the database on disk shows.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "fault_test.h"
#include "test_farm_util.h"

namespace farm_faults {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr int kAgents = 3;
constexpr int kSlots = 4;
constexpr int kJobs = 2000;

using AgentKillTest = FaultTest;

TEST_F(AgentKillTest, SweepCompletesExactlyOnceWhileAgentsAreKilled) {
  auto farm = TestFarm::Create(dir_, {.allowed_agents = kAgents});
  ASSERT_TRUE(farm.ok()) << farm.status().ToString();
  ASSERT_TRUE((*farm)->StartFarmd().ok());
  for (int i = 1; i <= kAgents; ++i) ASSERT_TRUE((*farm)->StartAgent(i, kSlots).ok());
  auto sweep = (*farm)->SubmitSweep(kJobs, 1);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << (*farm)->LogTails();

  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("random seed " + std::to_string(seed));
  int kills = 0;
  auto next_kill = Clock::now() + milliseconds(400);
  // Only agents that registered since their start are killed: a slow start (a loaded
  // machine) must not keep every agent from ever working.
  std::vector<int> registered_at_start(kAgents + 1, 0);
  auto on_poll = [&](const SweepCounts&) {
    if (Clock::now() < next_kill) return;
    std::vector<int> ready;
    for (int i = 1; i <= kAgents; ++i) {
      if ((*farm)->AgentRegistrations(i) > registered_at_start[i]) ready.push_back(i);
    }
    if (ready.empty()) return;
    const int victim =
        ready[std::uniform_int_distribution<std::size_t>(0, ready.size() - 1)(rng)];
    (*farm)->KillAgent(victim);
    ++kills;
    registered_at_start[victim] = (*farm)->AgentRegistrations(victim);
    EXPECT_TRUE((*farm)->StartAgent(victim, kSlots).ok());
    next_kill = Clock::now() + milliseconds(std::uniform_int_distribution<int>(400, 800)(rng));
  };
  // Polled often enough to kill every 400-800 ms: an agent links libtorch and takes
  // about a second to start, so faster kills would leave no agent working.
  auto counts = (*farm)->WaitForSweep(*sweep, seconds(200), on_poll, milliseconds(50));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->succeeded, kJobs) << (*farm)->LogTails();
  EXPECT_TRUE((*farm)->FarmdRunning()) << (*farm)->LogTails();
  (*farm)->StopAll();

  ExpectEveryJobDoneOnce((*farm)->database(), *sweep, kJobs);
  ExpectOneArtifactPerJob((*farm)->database(), (*farm)->artifact_root(), kJobs);
  ExpectEveryArtifactIsItsJobsOutput((*farm)->database(), (*farm)->artifact_root(), *sweep);

  // The kills did hit agents at work: some attempts ended without a result.
  auto db = FarmDb::OpenReadOnly((*farm)->database());
  ASSERT_TRUE(db.ok());
  auto lost = (*db)->Count("SELECT count(*) FROM attempts WHERE outcome <> 'succeeded'");
  ASSERT_TRUE(lost.ok()) << lost.status().ToString();
  EXPECT_GE(kills, 3);
  EXPECT_GT(*lost, 0) << kills << " kills interrupted no attempt";
  std::printf("%d agent kills, %lld interrupted attempts\n", kills,
              static_cast<long long>(*lost));
}

}  // namespace
}  // namespace farm_faults
