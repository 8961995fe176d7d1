// The fixture of the netns tests: skips with the reason when this machine cannot make network
// namespaces, else a fresh folder per test and, on request, a lab and the farm across it.
// The folder is removed when the test passed (kept with its logs when it failed).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "farm/testing/skip.h"
#include "farm_db_util.h"
#include "netns_farm.h"
#include "netns_lab.h"
#include "test_farm_util.h"

namespace farm_netns {

class NetnsTest : public testing::Test {
 protected:
  void SetUp() override {
    const farm::Status support = CheckNetnsSupport();
    if (support.code() == farm::StatusCode::kFailedPrecondition) {
      GTEST_SKIP() << farm::testing::kNetnsSkipPrefix << ": " << support.message();
    }
    // Missing programs are set-up's to install: this skip fails under CI.
    if (!support.ok()) GTEST_SKIP() << support.message();
    dir_ = std::filesystem::path(testing::TempDir()) /
           ("netns_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    farm_.reset();  // processes first, then their namespaces
    lab_.reset();
    std::error_code ignored;
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  // The lab with `agents` agent namespaces, `loss_percent` packet loss on every link, farmd
  // started and every agent registered. Fails the test (check with HasFatalFailure) if not.
  void StartFarm(int agents, const NetnsFarmOptions& options, int loss_percent = 0) {
    auto lab = NetnsLab::Create(agents);
    ASSERT_TRUE(lab.ok()) << lab.status().ToString();
    lab_ = std::move(*lab);
    if (loss_percent > 0) {
      ASSERT_TRUE(lab_->SetPacketLoss(loss_percent).ok());
    }
    auto farm = NetnsFarm::Create(*lab_, dir_, options);
    ASSERT_TRUE(farm.ok()) << farm.status().ToString();
    farm_ = std::move(*farm);
    const farm::Status farmd = farm_->StartFarmd();
    ASSERT_TRUE(farmd.ok()) << farmd.ToString();
    for (int i = 1; i <= agents; ++i) {
      const farm::Status agent = farm_->StartAgent(i);
      ASSERT_TRUE(agent.ok()) << agent.ToString();
    }
    for (int i = 1; i <= agents; ++i) {
      ASSERT_TRUE(farm_faults::WaitUntil(
          [&] { return farm_->AgentLogCount(i, "registered, session") > 0; },
          std::chrono::seconds(60), std::chrono::milliseconds(50)))
          << NetnsFarm::agent_id(i) << " never registered across the lab\n"
          << farm_->LogTails();
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<NetnsLab> lab_;
  std::unique_ptr<NetnsFarm> farm_;
};

using Lease = std::pair<std::int64_t, std::int64_t>;  // (job, attempt)

// The sweep's attempts still open on disk held by `agent` (every agent when empty).
inline std::set<Lease> OpenAttempts(const farm_faults::FarmDb& db, std::int64_t sweep,
                                    const std::string& agent = "") {
  std::set<Lease> open;
  auto rows = db.Rows(
      "SELECT a.job_id, a.attempt FROM attempts a JOIN jobs j ON a.job_id = j.id"
      " WHERE a.outcome IS NULL AND j.sweep_id = " + std::to_string(sweep) +
      (agent.empty() ? "" : " AND a.agent_id = '" + agent + "'"));
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (rows.ok()) {
    for (const auto& row : *rows) open.insert({std::stoll(row[0]), std::stoll(row[1])});
  }
  return open;
}

// How long ago, in ms, `agent`'s newest open attempt of the sweep was leased (farmd's clock,
// the same machine's); -1 when it holds none.
inline std::int64_t NewestOpenLeaseAgeMs(const farm_faults::FarmDb& db, std::int64_t sweep,
                                         const std::string& agent) {
  auto newest = db.Count(
      "SELECT coalesce(max(a.leased_at), -1) FROM attempts a JOIN jobs j ON a.job_id = j.id"
      " WHERE a.outcome IS NULL AND j.sweep_id = " + std::to_string(sweep) +
      " AND a.agent_id = '" + agent + "'");
  if (!newest.ok() || *newest < 0) return -1;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  return now - *newest;
}

// The outcome of one attempt on disk ("open" while unfinished, "" when there is no such row).
inline std::string Outcome(const farm_faults::FarmDb& db, const Lease& lease) {
  auto outcome = db.Texts("SELECT coalesce(outcome, 'open') FROM attempts WHERE job_id = " +
                          std::to_string(lease.first) + " AND attempt = " +
                          std::to_string(lease.second));
  return outcome.ok() && outcome->size() == 1 ? *outcome->begin() : "";
}

// The agent of the job's succeeded attempt ("" when it has none yet).
inline std::string SucceededOn(const farm_faults::FarmDb& db, std::int64_t job) {
  auto agent = db.Texts("SELECT agent_id FROM attempts WHERE outcome = 'succeeded' AND job_id = " +
                        std::to_string(job));
  return agent.ok() && agent->size() == 1 ? *agent->begin() : "";
}

inline std::string LeaseName(const Lease& lease) {
  return "job=" + std::to_string(lease.first) + " attempt=" + std::to_string(lease.second);
}

}  // namespace farm_netns
