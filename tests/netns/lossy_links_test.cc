// A bad network: a quarter of the packets every namespace receives are dropped (nftables,
// in farmd's namespace and every agent's) and the agents reach farmd through a proxy that
// holds every byte 20 ms each way. TCP retransmits, heartbeats stall, agents may reconnect;
// the sweep still completes with every job done exactly once.
#include <gtest/gtest.h>

#include "fault_test.h"
#include "netns_test.h"

namespace farm_netns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kAgents = 2;
constexpr int kJobs = 400;
constexpr int kLossPercent = 25;

using LossyLinksTest = NetnsTest;

TEST_F(LossyLinksTest, SweepCompletesExactlyOnceWithPacketLossAndLatency) {
  // A liveness window of 3 s: retransmissions back off to seconds under this loss, and an
  // agent presumed dead at every stall would spend the test reconnecting.
  StartFarm(kAgents,
            {.slots = 2,
             .heartbeat_interval_ms = 250,
             .heartbeat_liveness = 12,
             .lease_timeout_ms = 10000,
             .proxy_delay = milliseconds(20)},
            kLossPercent);
  if (HasFatalFailure()) return;
  auto sweep = farm_->SubmitSweep(kJobs, 1);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << farm_->LogTails();
  auto counts = farm_->WaitForSweep(*sweep, seconds(150));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->succeeded, kJobs);
  EXPECT_EQ(counts->failed + counts->cancelled + counts->skipped, 0);

  // The faults were there: packets dropped, and every agent's traffic went through the proxy.
  auto dropped = lab_->PacketsDropped();
  ASSERT_TRUE(dropped.ok()) << dropped.status().ToString();
  EXPECT_GT(*dropped, 0) << "the loss rules dropped nothing";
  ASSERT_NE(farm_->proxy(), nullptr);
  const int proxied_connections = farm_->proxy()->connections_accepted();
  const long long proxied_bytes = farm_->proxy()->bytes_forwarded();
  EXPECT_GE(proxied_connections, kAgents);
  EXPECT_GT(proxied_bytes, 0);
  int reconnects = 0;
  for (int i = 1; i <= kAgents; ++i) {
    EXPECT_TRUE(farm_->AgentRunning(i)) << NetnsFarm::agent_id(i) << " died\n" << farm_->LogTails();
    reconnects += farm_->AgentLogCount(i, "reconnecting");
  }
  farm_->StopAll();

  farm_faults::ExpectEveryJobDoneOnce(farm_->database(), *sweep, kJobs);
  farm_faults::ExpectOneArtifactPerJob(farm_->database(), farm_->artifact_root(), kJobs);
  farm_faults::ExpectEveryArtifactIsItsJobsOutput(farm_->database(), farm_->artifact_root(), *sweep);
  std::printf("%lld packets dropped, %d proxied connections, %lld bytes proxied, %d agent reconnects\n",
              static_cast<long long>(*dropped), proxied_connections, proxied_bytes, reconnects);
}

}  // namespace
}  // namespace farm_netns
