// An agent cut off mid-sweep (its link down, in its own namespace): farmd stops hearing it,
// its leases expire and their jobs run on the other agent. When the link returns the agent
// registers again and sends the results it finished while cut off; fencing refuses them
// (acked "not accepted", counted as ignored), and every job is done exactly once.
#include <gtest/gtest.h>

#include "fault_test.h"
#include "netns_test.h"

namespace farm_netns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kAgents = 2;
constexpr int kJobs = 240;
// Long enough that a job leased just before the link goes is finished after it, cut off.
constexpr int kJobCpuMs = 150;
// The link goes down at most this long after node01 was given a job.
constexpr int kFreshLeaseMs = 40;

using PartitionTest = NetnsTest;

TEST_F(PartitionTest, CutOffAgentsJobsRunElsewhereAndItsLateResultsAreRefused) {
  StartFarm(kAgents, {});  // two slots each, heartbeats every 200 ms, leases 3 s
  if (HasFatalFailure()) return;
  auto sweep = farm_->SubmitSweep(kJobs, kJobCpuMs);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << farm_->LogTails();
  auto db = farm_faults::FarmDb::OpenReadOnly(farm_->database());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  const std::string cut = NetnsFarm::agent_id(1);
  const std::string other = NetnsFarm::agent_id(2);

  // A fifth into the sweep, just after node01 was given a job (so that it is still running
  // it, not sending its result, when the link goes).
  std::set<Lease> held;
  ASSERT_TRUE(farm_faults::WaitUntil(
      [&] {
        auto done = (*db)->SucceededJobs(*sweep);
        if (!done.ok() || done->size() < kJobs / 5) return false;
        const std::int64_t age = NewestOpenLeaseAgeMs(**db, *sweep, cut);
        if (age < 0 || age > kFreshLeaseMs) return false;
        held = OpenAttempts(**db, *sweep, cut);
        return !held.empty();
      },
      seconds(60), milliseconds(5)))
      << "the sweep stalled before the partition\n" << farm_->LogTails();
  ASSERT_TRUE(lab_->SetAgentLink(1, false).ok());

  // Cut off, its leases end (farmd no longer hears it) and their jobs finish on node02.
  // A lease whose result was already on its way when the link went may have succeeded.
  std::set<Lease> lost;
  const bool settled = farm_faults::WaitUntil(
      [&] {
        lost.clear();
        for (const Lease& lease : held) {
          const std::string outcome = Outcome(**db, lease);
          if (outcome == "open") return false;
          if (outcome == "succeeded") continue;
          if (SucceededOn(**db, lease.first) != other) return false;
          lost.insert(lease);
        }
        return true;
      },
      seconds(60), milliseconds(50));
  ASSERT_TRUE(settled) << "node01's leases were not requeued to node02 while it was cut off\n"
                       << farm_->LogTails();
  EXPECT_FALSE(lost.empty()) << "every lease node01 held finished before its link went down";
  for (const Lease& lease : lost) {
    EXPECT_EQ(Outcome(**db, lease), "expired") << LeaseName(lease);
  }
  // node01 is still running its own copy of those jobs, unaware.
  EXPECT_TRUE(farm_->AgentRunning(1));
  const int registrations = farm_->AgentLogCount(1, "registered, session");

  ASSERT_TRUE(lab_->SetAgentLink(1, true).ok());
  auto counts = farm_->WaitForSweep(*sweep, seconds(120));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->succeeded, kJobs);
  // Back on the network: it registered again and sent its late results, which fencing
  // refused, each once it arrived.
  EXPECT_TRUE(farm_faults::WaitUntil(
      [&] {
        for (const Lease& lease : lost) {
          if (farm_->AgentLogCount(1, LeaseName(lease) + " result acked (not accepted)") == 0) {
            return false;
          }
        }
        return true;
      },
      seconds(30)))
      << "node01's results from the partition were not answered as refused\n"
      << farm_->LogTails(40);
  EXPECT_GT(farm_->AgentLogCount(1, "registered, session"), registrations);
  auto metrics = farm_->Metrics();
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_GE(farm_faults::MetricValue(*metrics, "farm_results_ignored_total"),
            static_cast<double>(lost.size()))
      << *metrics;
  farm_->StopAll();

  // Refused means not stored: each lost lease stays expired, its job done once on node02.
  for (const Lease& lease : lost) {
    EXPECT_EQ(Outcome(**db, lease), "expired") << LeaseName(lease);
    EXPECT_EQ(SucceededOn(**db, lease.first), other) << LeaseName(lease);
  }
  farm_faults::ExpectEveryJobDoneOnce(farm_->database(), *sweep, kJobs);
  farm_faults::ExpectOneArtifactPerJob(farm_->database(), farm_->artifact_root(), kJobs);
  farm_faults::ExpectEveryArtifactIsItsJobsOutput(farm_->database(), farm_->artifact_root(), *sweep);
  std::printf("node01 cut off holding %zu leases, %zu expired and ran on node02\n", held.size(),
              lost.size());
}

}  // namespace
}  // namespace farm_netns
