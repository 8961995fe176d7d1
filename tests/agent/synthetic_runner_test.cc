#include "farm/agent/synthetic_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace {

using Clock = std::chrono::steady_clock;

JobSpec Spec(const std::string& params) {
  JobSpec spec;
  spec.job_id = 1;
  spec.attempt = 1;
  spec.kind = studiofarm::v1::JOB_KIND_SYNTHETIC;
  spec.params_json = params;
  return spec;
}

JobOutcome RunNow(const std::string& params) {
  SyntheticRunner runner;
  CancellationToken token;
  return runner.Run(Spec(params), nullptr, token);
}

TEST(SyntheticRunnerTest, SameParamsGiveSameBytes) {
  const JobOutcome a = RunNow(R"({"bytes": 100000, "seed": 7})");
  const JobOutcome b = RunNow(R"({"seed": 7, "bytes": 100000, "cpu_ms": 0})");
  ASSERT_EQ(a.status, JobStatus::kSucceeded) << a.error;
  ASSERT_EQ(b.status, JobStatus::kSucceeded) << b.error;
  ASSERT_EQ(a.artifacts.size(), 1u);
  EXPECT_EQ(a.artifacts[0].name, "output");
  EXPECT_EQ(a.artifacts[0].media_type, "application/octet-stream");
  EXPECT_EQ(a.artifacts[0].bytes.size(), 100000u);
  EXPECT_EQ(a.artifacts[0].bytes, b.artifacts[0].bytes);
}

TEST(SyntheticRunnerTest, StreamIsPinned) {
  // The first block is SHA-256 of the canonical params followed by counter 0 (8 bytes LE);
  // changing the derivation changes every stored synthetic artifact.
  SyntheticParams params;
  params.bytes = 32;
  params.seed = 1;
  const std::string seed = R"({"bytes":32,"cpu_ms":0,"fail":false,"seed":1})";
  const std::string expected_hex = Sha256Hex(seed + std::string(8, '\0'));
  const std::string bytes = SyntheticBytes(params);
  std::string hex;
  for (unsigned char c : bytes) {
    static const char* digits = "0123456789abcdef";
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  EXPECT_EQ(hex, expected_hex);
}

TEST(SyntheticRunnerTest, DifferentSeedsGiveDifferentBytes) {
  const JobOutcome a = RunNow(R"({"bytes": 64, "seed": 1})");
  const JobOutcome b = RunNow(R"({"bytes": 64, "seed": 2})");
  ASSERT_EQ(a.status, JobStatus::kSucceeded);
  ASSERT_EQ(b.status, JobStatus::kSucceeded);
  EXPECT_NE(a.artifacts[0].bytes, b.artifacts[0].bytes);
}

TEST(SyntheticRunnerTest, ZeroBytesGiveAnEmptyArtifact) {
  const JobOutcome outcome = RunNow("{}");
  ASSERT_EQ(outcome.status, JobStatus::kSucceeded) << outcome.error;
  ASSERT_EQ(outcome.artifacts.size(), 1u);
  EXPECT_TRUE(outcome.artifacts[0].bytes.empty());
}

TEST(SyntheticRunnerTest, BurnsRequestedTimeAndReportsProgress) {
  SyntheticRunner runner;
  CancellationToken token;
  int updates = 0;
  uint32_t last_step = 0;
  const auto start = Clock::now();
  const JobOutcome outcome = runner.Run(
      Spec(R"({"cpu_ms": 200})"),
      [&](const ProgressUpdate& u) {
        ++updates;
        EXPECT_GE(u.step, last_step);
        last_step = u.step;
        EXPECT_EQ(u.total_steps, 10u);
      },
      token);
  const auto elapsed = Clock::now() - start;
  ASSERT_EQ(outcome.status, JobStatus::kSucceeded);
  EXPECT_GE(elapsed, std::chrono::milliseconds(200));
  EXPECT_GE(updates, 2);
  EXPECT_EQ(last_step, 10u);
  EXPECT_GE(outcome.metrics.at("cpu_ms"), 200.0);
}

TEST(SyntheticRunnerTest, CancellationStopsPromptly) {
  SyntheticRunner runner;
  CancellationToken token;
  JobOutcome outcome;
  const auto start = Clock::now();
  std::thread job([&] { outcome = runner.Run(Spec(R"({"cpu_ms": 60000})"), nullptr, token); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  token.Request(CancellationToken::Reason::kCancelled);
  job.join();
  EXPECT_EQ(outcome.status, JobStatus::kCancelled);
  EXPECT_TRUE(outcome.artifacts.empty());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST(SyntheticRunnerTest, FirstStopReasonWins) {
  CancellationToken token;
  token.Request(CancellationToken::Reason::kCancelled);
  token.Request(CancellationToken::Reason::kReleased);
  EXPECT_EQ(token.reason(), CancellationToken::Reason::kCancelled);
}

TEST(SyntheticRunnerTest, FailFlagFailsWithClearError) {
  const JobOutcome outcome = RunNow(R"({"fail": true, "bytes": 10})");
  EXPECT_EQ(outcome.status, JobStatus::kFailed);
  EXPECT_NE(outcome.error.find("fail"), std::string::npos) << outcome.error;
  EXPECT_TRUE(outcome.artifacts.empty());
  EXPECT_FALSE(outcome.permanent) << "a requested failure stands for a transient one";
}

struct BadParamsCase {
  const char* params;
  const char* mentions;
};

class SyntheticBadParamsTest : public ::testing::TestWithParam<BadParamsCase> {};

TEST_P(SyntheticBadParamsTest, FailsNamingTheProblem) {
  const JobOutcome outcome = RunNow(GetParam().params);
  EXPECT_EQ(outcome.status, JobStatus::kFailed);
  EXPECT_NE(outcome.error.find(GetParam().mentions), std::string::npos) << outcome.error;
  EXPECT_TRUE(outcome.artifacts.empty());
  EXPECT_TRUE(outcome.permanent) << "the same params fail on every agent";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SyntheticBadParamsTest,
    ::testing::Values(BadParamsCase{"{not json", "not valid JSON"},
                      BadParamsCase{"[1, 2]", "JSON object"},
                      BadParamsCase{R"({"cpu_ms": "fast"})", "cpu_ms"},
                      BadParamsCase{R"({"cpu_ms": -5})", "cpu_ms"},
                      BadParamsCase{R"({"bytes": 1.5})", "bytes"},
                      BadParamsCase{R"({"bytes": 99999999999999})", "exceeds the limit"},
                      BadParamsCase{R"({"fail": 1})", "fail"},
                      BadParamsCase{R"({"cpu_msec": 10})", "unknown key \"cpu_msec\""}));

}  // namespace
}  // namespace farm::agent
