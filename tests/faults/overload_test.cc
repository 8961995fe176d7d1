// Overload: far more queued jobs than agent slots (2 agents x 2 slots, thousands of
// jobs). Nothing may be dropped, every job runs exactly once, and farmd's memory must
// not grow with the work it has already done: its resident size near the end is compared
// with the size at a quarter of the sweep, against bounds set from measured runs.
#include <gtest/gtest.h>

#include <algorithm>

#include "fault_test.h"
#include "test_farm_util.h"

namespace farm_faults {
namespace {

using std::chrono::seconds;

constexpr int kAgents = 2;
constexpr int kSlots = 2;
constexpr int kJobs = 2000;  // 500 jobs per slot
// Growth allowed between 25 % and 100 % of the sweep (farmd holds every job from the
// submit on). Measured here: 0 KiB (21,660-21,668 KiB at both points, two runs); 2 MiB
// leaves room for allocator and page-cache noise, while leaking 1.4 KiB per finished job
// (1,500 of them) exceeds it.
constexpr std::int64_t kMaxGrowthKib = 2 * 1024;
// farmd's peak for this sweep, measured at ~21.7 MiB (mostly its shared libraries); the
// bound allows for other builds of those libraries, not for growth with the job count.
constexpr std::int64_t kMaxPeakKib = 40 * 1024;

using OverloadTest = FaultTest;

TEST_F(OverloadTest, TenTimesMoreJobsThanSlotsAllRunOnceInBoundedMemory) {
  auto farm = TestFarm::Create(dir_, {.allowed_agents = kAgents});
  ASSERT_TRUE(farm.ok()) << farm.status().ToString();
  TestFarm& f = **farm;
  ASSERT_TRUE(f.StartFarmd().ok());
  const pid_t farmd = f.farmd_pid();
  for (int i = 1; i <= kAgents; ++i) ASSERT_TRUE(f.StartAgent(i, kSlots).ok());
  auto sweep = f.SubmitSweep(kJobs, 1);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << f.LogTails();

  ProcessMemory at_quarter, peak;
  int max_leased = 0;
  auto counts = f.WaitForSweep(*sweep, seconds(100), [&](const SweepCounts& now) {
    max_leased = std::max(max_leased, now.leased);
    const ProcessMemory memory = ReadProcessMemory(farmd);
    peak.rss_kib = std::max(peak.rss_kib, memory.rss_kib);
    peak.hwm_kib = std::max(peak.hwm_kib, memory.hwm_kib);
    if (at_quarter.rss_kib == 0 && now.succeeded >= kJobs / 4) at_quarter = memory;
  }, std::chrono::milliseconds(250));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  const ProcessMemory at_end = ReadProcessMemory(farmd);
  EXPECT_EQ(counts->succeeded, kJobs) << f.LogTails();
  EXPECT_EQ(counts->failed + counts->cancelled + counts->skipped, 0);
  // Never more leases than slots: the surplus waited in the queue.
  EXPECT_LE(max_leased, kAgents * kSlots);

  ASSERT_GT(at_quarter.rss_kib, 0) << "farmd's memory was never sampled at 25 %";
  ASSERT_GT(at_end.rss_kib, 0);
  EXPECT_LT(at_end.rss_kib - at_quarter.rss_kib, kMaxGrowthKib)
      << "farmd grew from " << at_quarter.rss_kib << " KiB at 25 % to " << at_end.rss_kib
      << " KiB at the end";
  EXPECT_LT(std::max(peak.hwm_kib, at_end.hwm_kib), kMaxPeakKib);
  std::printf("farmd RSS: %lld KiB at 25 %%, %lld KiB at the end, peak %lld KiB\n",
              static_cast<long long>(at_quarter.rss_kib), static_cast<long long>(at_end.rss_kib),
              static_cast<long long>(std::max(peak.hwm_kib, at_end.hwm_kib)));

  // Nothing was dropped on the way: no send refused, no frame lost.
  auto metrics = f.Metrics();
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_EQ(MetricValue(*metrics, "farm_link_messages_total{kind=\"dropped_malformed\"}"), 0);
  EXPECT_EQ(MetricValue(*metrics, "farm_send_failures_total"), 0);
  EXPECT_TRUE(f.FarmdRunning());
  f.StopAll();
  ExpectEveryJobDoneOnce(f.database(), *sweep, kJobs);
  ExpectOneArtifactPerJob(f.database(), f.artifact_root(), kJobs);
  ExpectEveryArtifactIsItsJobsOutput(f.database(), f.artifact_root(), *sweep);
}

}  // namespace
}  // namespace farm_faults
