// farmd killed and started again (same database, same port) while one agent is cut off by a
// silent partition (every packet to and from it dropped, as by a dead switch). The new farmd
// restores the leases the cut-off agent held and, not hearing it, lets them expire and runs
// their jobs on the other agent. When the partition ends, the agent (never restarted)
// finds the new farmd by itself and the sweep completes, every job exactly once.
#include <gtest/gtest.h>

#include "fault_test.h"
#include "netns_test.h"

namespace farm_netns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kAgents = 2;
constexpr int kJobs = 400;
constexpr int kJobCpuMs = 20;

using FarmdRestartTest = NetnsTest;

TEST_F(FarmdRestartTest, SweepCompletesAfterARestartDuringAPartition) {
  StartFarm(kAgents, {});  // two slots each, heartbeats every 200 ms, leases 3 s
  if (HasFatalFailure()) return;
  auto sweep = farm_->SubmitSweep(kJobs, kJobCpuMs);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << farm_->LogTails();
  auto db = farm_faults::FarmDb::OpenReadOnly(farm_->database());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  const std::string cut = NetnsFarm::agent_id(1);

  ASSERT_TRUE(farm_faults::WaitUntil(
      [&] {
        auto done = (*db)->SucceededJobs(*sweep);
        return done.ok() && done->size() >= kJobs / 5 && !OpenAttempts(**db, *sweep, cut).empty();
      },
      seconds(60), milliseconds(5)))
      << "the sweep stalled before the partition\n" << farm_->LogTails();
  ASSERT_TRUE(lab_->SetAgentBlackhole(1, true).ok());
  farm_->KillFarmd();
  // What the dead farmd left open on disk, node01's leases among them.
  const std::set<Lease> open_at_kill = OpenAttempts(**db, *sweep);
  const std::set<Lease> cut_at_kill = OpenAttempts(**db, *sweep, cut);
  auto done_at_kill = (*db)->SucceededJobs(*sweep);
  ASSERT_TRUE(done_at_kill.ok());
  const std::size_t kept = done_at_kill->size();

  const farm::Status restarted = farm_->StartFarmd();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  const int registrations = farm_->AgentLogCount(1, "registered, session");
  // The new farmd goes on with node02 alone while node01 is cut off: node01's leases,
  // restored from the database, expire there and their jobs run on node02.
  EXPECT_FALSE(cut_at_kill.empty()) << "the kill found node01 holding nothing";
  const bool went_on = farm_faults::WaitUntil(
      [&] {
        auto done = (*db)->SucceededJobs(*sweep);
        if (!done.ok() || done->size() < kept + 40) return false;
        for (const Lease& lease : cut_at_kill) {
          if (SucceededOn(**db, lease.first).empty()) return false;
        }
        return OpenAttempts(**db, *sweep, cut).empty();
      },
      seconds(60), milliseconds(50));
  ASSERT_TRUE(went_on) << "the restarted farmd did not go on without node01\n" << farm_->LogTails();
  EXPECT_EQ(farm_->AgentLogCount(1, "registered, session"), registrations)
      << "node01 registered through its partition";

  for (const Lease& lease : cut_at_kill) {
    EXPECT_EQ(Outcome(**db, lease), "expired") << LeaseName(lease);
    EXPECT_EQ(SucceededOn(**db, lease.first), NetnsFarm::agent_id(2)) << LeaseName(lease);
  }

  ASSERT_TRUE(lab_->SetAgentBlackhole(1, false).ok());
  EXPECT_TRUE(farm_faults::WaitUntil(
      [&] { return farm_->AgentLogCount(1, "registered, session") > registrations; }, seconds(30)))
      << "node01 did not find the new farmd after the partition\n" << farm_->LogTails();
  auto counts = farm_->WaitForSweep(*sweep, seconds(120));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->succeeded, kJobs);
  // What node01 ran of those leases while cut off reached the new farmd and was refused
  // (an offer the partition swallowed never started, so it has no result).
  EXPECT_TRUE(farm_faults::WaitUntil(
      [&] {
        for (const Lease& lease : cut_at_kill) {
          if (farm_->AgentLogCount(1, LeaseName(lease) + " started") > 0 &&
              farm_->AgentLogCount(1, LeaseName(lease) + " result acked (not accepted)") == 0) {
            return false;
          }
        }
        return true;
      },
      seconds(30)))
      << "node01's results from the partition were not answered as refused\n"
      << farm_->LogTails(40);
  for (int i = 1; i <= kAgents; ++i) {
    EXPECT_TRUE(farm_->AgentRunning(i)) << NetnsFarm::agent_id(i) << " died\n" << farm_->LogTails();
  }
  farm_->StopAll();

  // Every lease the kill interrupted was settled by the new farmd.
  for (const Lease& lease : open_at_kill) {
    EXPECT_NE(Outcome(**db, lease), "open") << LeaseName(lease);
  }
  farm_faults::ExpectEveryJobDoneOnce(farm_->database(), *sweep, kJobs);
  farm_faults::ExpectOneArtifactPerJob(farm_->database(), farm_->artifact_root(), kJobs);
  farm_faults::ExpectEveryArtifactIsItsJobsOutput(farm_->database(), farm_->artifact_root(), *sweep);
  std::printf("farmd killed with %zu leases open; %zu jobs done before the kill\n",
              open_at_kill.size(), kept);
}

}  // namespace
}  // namespace farm_netns
