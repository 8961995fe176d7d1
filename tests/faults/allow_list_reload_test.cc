// An operator admits a new agent without restarting farmd: its key is appended to the
// allow-list and farmd gets SIGHUP. Before, the agent is refused; after, it registers and
// runs the sweep on its own. A broken allow-list on a later SIGHUP keeps the current one.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "fault_test.h"
#include "test_farm_util.h"

namespace farm_faults {
namespace {

using std::chrono::seconds;

constexpr int kJobs = 40;

using AllowListReloadTest = FaultTest;

TEST_F(AllowListReloadTest, SighupAdmitsANewlyListedAgentAndABrokenListChangesNothing) {
  auto farm = TestFarm::Create(dir_, {.allowed_agents = 1});
  ASSERT_TRUE(farm.ok()) << farm.status().ToString();
  TestFarm& f = **farm;
  ASSERT_TRUE(f.StartFarmd().ok());
  auto newcomer_key = f.StartAgentWithUnknownKey("newcomer", 2);
  ASSERT_TRUE(newcomer_key.ok()) << newcomer_key.status().ToString();
  auto sweep = f.SubmitSweep(kJobs, 1);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << f.LogTails();
  std::string metrics;
  ASSERT_TRUE(f.WaitForAuthRefusals(1, seconds(30), &metrics)) << metrics << f.LogTails();

  const std::filesystem::path allow = dir_ / "keys" / "agents.allow";
  std::ofstream(allow, std::ios::app) << *newcomer_key << "  # newcomer\n";
  ASSERT_EQ(::kill(f.farmd_pid(), SIGHUP), 0);

  auto counts = f.WaitForSweep(*sweep, seconds(90));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString() << f.LogTails();
  EXPECT_EQ(counts->succeeded, kJobs) << f.LogTails();
  const std::string log = farm::TailOfFile(f.farmd_log(), 1000);
  EXPECT_NE(log.find("allow-list " + allow.string() + " reloaded: 2 agent keys"), std::string::npos)
      << log;

  // A list farmd cannot read keeps the current one: the newcomer stays admitted.
  std::ofstream(allow, std::ios::app) << "not-a-key\n";
  ASSERT_EQ(::kill(f.farmd_pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return farm::TailOfFile(f.farmd_log(), 1000).find("allow-list not reloaded") !=
               std::string::npos;
      },
      seconds(10)))
      << farm::TailOfFile(f.farmd_log(), 50);
  auto second = f.SubmitSweep(4, 1);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto again = f.WaitForSweep(*second, seconds(60));
  ASSERT_TRUE(again.ok()) << again.status().ToString() << f.LogTails();
  EXPECT_EQ(again->succeeded, 4);
  EXPECT_TRUE(f.FarmdRunning());
}

}  // namespace
}  // namespace farm_faults
