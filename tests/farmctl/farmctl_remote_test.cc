// farmctl's verbs against a running farmd (started by the test: loopback, no CURVE), as a
// user runs them: `submit` sends the spec's real render jobs unless --synthetic is given,
// and `status`, `jobs`, `agents` and `cancel` answer with what farmd holds, both as tables
// and with --json.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "shell_run.h"


namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::ParseOrFail;
using farmctl_test::Shell;
using nlohmann::json;

constexpr char kToken[] = "remote-token";

class FarmctlRemoteTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) /
           ("farmctl_remote_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "photos");
    std::ofstream(dir_ / "photos" / "a.jpg") << "not really a photo";
    // Eight renders; the checkpoint by hash only (no agent here has it).
    std::ofstream(dir_ / "tiny.yaml")
        << "name: tiny\n"
           "identity:\n  name: t\n  photos: \"photos/*.jpg\"\n  token: sks person\n"
           "checkpoint:\n  path: none.safetensors\n"
           "  sha256: 9e194ae96bc93e7bbd668c1782ac0a1c7db5b2a0a0789512c12a0cba330d20bc\n"
           "render:\n  prompt: \"photo of {token}\"\n  size: 64x64\n  steps: 4\n"
           "  cfg: 7\n  sampler: Euler\n  seeds: [1, 2, 3, 4, 5, 6, 7, 8]\n";
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    if (!HasFailure()) fs::remove_all(dir_);
  }

  pid_t Spawn(std::vector<std::string> args, int stdout_fd, const std::string& log) {
    const pid_t pid = farmctl_test::SpawnWithLog(std::move(args), stdout_fd, log);
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

  // Starts farmd; fails the test (and returns false) when it does not report ready.
  bool StartFarmd() {
    fs::create_directories(dir_ / "state");
    std::vector<std::string> args = {FARMD_PATH,        "--no-curve",
                                     "--db",            (dir_ / "state" / "farm.db").string(),
                                     "--artifacts",     (dir_ / "state" / "artifacts").string(),
                                     "--listen-agents", "tcp://127.0.0.1:0",
                                     "--listen-http",   "127.0.0.1:0",
                                     "--token",         kToken,
                                     "--spec-dir",      dir_.string()};
    int fds[2];
    if (::pipe(fds) != 0) return false;
    const pid_t pid = Spawn(args, fds[1], (dir_ / "farmd.log").string());
    ::close(fds[1]);
    std::string line;
    char ch;
    while (pid > 0 && ::read(fds[0], &ch, 1) == 1 && ch != '\n') line += ch;
    ::close(fds[0]);
    ready_ = json::parse(line, nullptr, false);
    EXPECT_TRUE(ready_.is_object() && ready_.contains("http") && ready_.contains("agent_endpoint"))
        << "farmd did not report ready: '" << line << "'\n"
        << FarmdLog();
    return !HasFailure();
  }

  void StartAgent(const std::string& id) {
    ASSERT_GT(Spawn({FARM_AGENT_PATH, "--connect", ready_.value("agent_endpoint", ""), "--id", id,
                     "--slots", "2", "--shutdown-grace-ms", "0"},
                    -1, (dir_ / (id + ".log")).string()),
              0)
        << "cannot start " << FARM_AGENT_PATH;
  }

  // farmctl ARGS against the test's farmd; stderr merged unless `json_only`.
  CliRun Farmctl(const std::string& args, bool json_only = false) const {
    return Shell("cd '" + dir_.string() + "' && STUDIOFARM_DB= STUDIOFARM_ENDPOINT= '" FARMCTL_PATH
                 "' " + args + " --endpoint " + ready_.value("http", "") + " --token " + kToken +
                 (json_only ? " 2>/dev/null" : " 2>&1"));
  }

  // `farmctl ARGS --json`, exit 0 and JSON on stdout, or a test failure and null.
  json FarmctlJson(const std::string& args) const {
    CliRun run = Farmctl(args + " --json", true);
    EXPECT_EQ(run.exit_code, 0) << args << ": " << run.out << FarmdLog();
    return run.exit_code == 0 ? ParseOrFail(run) : json();
  }

  std::int64_t Submit(const std::string& flags = "") {
    const json answer = FarmctlJson("submit tiny.yaml" + flags);
    EXPECT_EQ(answer.value("jobs_total", 0), 8) << answer.dump();
    return answer.value("sweep_id", std::int64_t{0});
  }

  json Jobs(std::int64_t sweep, const std::string& flags = "") const {
    return FarmctlJson("jobs --sweep " + std::to_string(sweep) + flags).value("jobs", json::array());
  }

  std::string FarmdLog() const {
    return "\nfarmd log:\n" + Shell("tail -20 '" + (dir_ / "farmd.log").string() + "'").out;
  }

  fs::path dir_;
  json ready_;
  std::vector<pid_t> children_;
};

TEST_F(FarmctlRemoteTest, SubmitSendsTheSpecsRealRenderJobsByDefault) {
  ASSERT_TRUE(StartFarmd());
  const std::int64_t sweep = Submit();
  ASSERT_GT(sweep, 0);
  // The jobs farmd holds are the spec's render records, as `sweep expand` computes them.
  CliRun expand = Shell("cd '" + dir_.string() + "' && '" FARMCTL_PATH
                        "' sweep expand tiny.yaml --json 2>/dev/null");
  ASSERT_EQ(expand.exit_code, 0) << expand.out;
  std::set<std::string> expected;
  const json expansion = ParseOrFail(expand);
  for (const json& job : expansion["jobs"]) expected.insert(job["param_hash"].get<std::string>());
  ASSERT_EQ(expected.size(), 8u) << expand.out;

  const json jobs = Jobs(sweep);
  ASSERT_EQ(jobs.size(), 8u) << jobs.dump();
  std::set<std::string> submitted;
  for (const json& job : jobs) {
    EXPECT_EQ(job.value("kind", ""), "render") << job.dump();
    EXPECT_EQ(job.value("state", ""), "queued") << job.dump();  // no agent is connected
    submitted.insert(job.value("param_hash", ""));
  }
  EXPECT_EQ(submitted, expected);

  // The person's line names the sweep and the jobs it made.
  CliRun plain = Farmctl("submit tiny.yaml");
  EXPECT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.out.find("submitted sweep " + std::to_string(sweep + 1) + ": "), std::string::npos)
      << plain.out;
  EXPECT_NE(plain.out.find(" of 8"), std::string::npos) << plain.out;
}

TEST_F(FarmctlRemoteTest, SyntheticIsOptInAndATrainingSpecGoesToFarmd) {
  ASSERT_TRUE(StartFarmd());
  const std::int64_t sweep = Submit(" --synthetic");
  ASSERT_GT(sweep, 0);
  const json jobs = Jobs(sweep);
  ASSERT_EQ(jobs.size(), 8u) << jobs.dump();
  for (const json& job : jobs) EXPECT_EQ(job.value("kind", ""), "synthetic") << job.dump();

  // A spec that trains is no longer refused locally: it goes to farmd, which (started
  // here without presets or a models folder) cannot expand it and refuses it whole.
  const std::string training = std::string(FARM_SOURCE_DIR) + "/experiments/lora_steps.yaml";
  CliRun refused = Farmctl("submit '" + training + "'");
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("POST /api/v1/sweeps: lora_steps.yaml"), std::string::npos) << refused.out;
  EXPECT_EQ(refused.out.find("--synthetic"), std::string::npos) << refused.out;
  EXPECT_EQ(FarmctlJson("status").value("sweeps", json::array()).size(), 1u)
      << "a sweep was created for a spec whose photos farmd cannot read";
}

TEST_F(FarmctlRemoteTest, StatusJobsAndCancelShowWhatFarmdHolds) {
  ASSERT_TRUE(StartFarmd());
  const std::int64_t sweep = Submit();
  ASSERT_GT(sweep, 0);

  const json sweeps = FarmctlJson("status").value("sweeps", json::array());
  ASSERT_EQ(sweeps.size(), 1u) << sweeps.dump();
  EXPECT_EQ(sweeps[0].value("id", std::int64_t{0}), sweep);
  EXPECT_EQ(sweeps[0].value("name", ""), "tiny");
  CliRun table = Farmctl("status");
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_NE(table.out.find("name"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("tiny"), std::string::npos) << table.out;

  const json one = FarmctlJson("status " + std::to_string(sweep));
  EXPECT_EQ(one.value("jobs_total", 0), 8) << one.dump();
  EXPECT_EQ(one["jobs"].value("queued", 0), 8) << one.dump();
  CliRun counts = Farmctl("status " + std::to_string(sweep));
  ASSERT_EQ(counts.exit_code, 0) << counts.out;
  EXPECT_NE(counts.out.find("sweep " + std::to_string(sweep) + " 'tiny': "), std::string::npos)
      << counts.out;

  // One job, then the rest of the sweep.
  const json jobs = Jobs(sweep);
  ASSERT_EQ(jobs.size(), 8u);
  const std::int64_t first = jobs[0].value("id", std::int64_t{0});
  CliRun cancel_job = Farmctl("cancel --job " + std::to_string(first));
  ASSERT_EQ(cancel_job.exit_code, 0) << cancel_job.out;
  EXPECT_NE(cancel_job.out.find("cancelled job " + std::to_string(first)), std::string::npos)
      << cancel_job.out;
  const json cancelled = Jobs(sweep, " --state cancelled");
  ASSERT_EQ(cancelled.size(), 1u) << cancelled.dump();
  EXPECT_EQ(cancelled[0].value("id", std::int64_t{0}), first);
  EXPECT_EQ(Jobs(sweep, " --state queued").size(), 7u);
  EXPECT_EQ(Jobs(sweep, " --limit 3").size(), 3u);

  CliRun cancel_sweep = Farmctl("cancel " + std::to_string(sweep));
  ASSERT_EQ(cancel_sweep.exit_code, 0) << cancel_sweep.out;
  EXPECT_NE(cancel_sweep.out.find("cancelled sweep " + std::to_string(sweep)), std::string::npos)
      << cancel_sweep.out;
  const json after = FarmctlJson("status " + std::to_string(sweep));
  EXPECT_EQ(after.value("state", ""), "cancelled") << after.dump();
  EXPECT_EQ(after["jobs"].value("cancelled", 0), 8) << after.dump();

  CliRun job_table = Farmctl("jobs --sweep " + std::to_string(sweep) + " --state cancelled");
  ASSERT_EQ(job_table.exit_code, 0) << job_table.out;
  int rows = 0;
  for (std::size_t at = job_table.out.find("cancelled"); at != std::string::npos;
       at = job_table.out.find("cancelled", at + 1)) {
    ++rows;
  }
  EXPECT_EQ(rows, 8) << job_table.out;
}

TEST_F(FarmctlRemoteTest, AgentsListsAConnectedAgentWhileItWorks) {
  ASSERT_TRUE(StartFarmd());
  StartAgent("remote-1");
  const std::int64_t sweep = Submit(" --synthetic");
  ASSERT_GT(sweep, 0);
  // The agent registers and runs the sweep; bounded so a broken farm fails, not hangs.
  json status;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    status = FarmctlJson("status " + std::to_string(sweep));
    if (status["jobs"].value("succeeded", 0) == 8) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(status["jobs"].value("succeeded", 0), 8)
      << status.dump() << FarmdLog() << "\nagent log:\n"
      << Shell("tail -20 '" + (dir_ / "remote-1.log").string() + "'").out;

  const json agents = FarmctlJson("agents").value("agents", json::array());
  ASSERT_EQ(agents.size(), 1u) << agents.dump();
  EXPECT_EQ(agents[0].value("id", ""), "remote-1");
  EXPECT_EQ(agents[0].value("state", ""), "online") << agents.dump();
  EXPECT_EQ(agents[0].value("slots", 0), 2) << agents.dump();
  EXPECT_FALSE(agents[0].value("version", "").empty()) << agents.dump();
  CliRun table = Farmctl("agents");
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_NE(table.out.find("remote-1"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("online"), std::string::npos) << table.out;

  const json done = Jobs(sweep, " --state succeeded");
  ASSERT_EQ(done.size(), 8u) << done.dump();
  for (const json& job : done) EXPECT_EQ(job.value("attempt_count", 0), 1) << job.dump();
}

TEST_F(FarmctlRemoteTest, AgentsDrainWaitsForAnIdleAgentAndResumeEndsIt) {
  ASSERT_TRUE(StartFarmd());
  StartAgent("remote-1");
  json agents;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (agents.empty() && std::chrono::steady_clock::now() < deadline) {
    agents = FarmctlJson("agents").value("agents", json::array());
    if (agents.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(agents.size(), 1u) << FarmdLog();

  const json drained = FarmctlJson("agents drain remote-1 --wait --timeout 20");
  EXPECT_EQ(drained.value("state", ""), "draining") << drained.dump();
  EXPECT_TRUE(drained.value("drain_requested", false)) << drained.dump();
  agents = FarmctlJson("agents").value("agents", json::array());
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0].value("state", ""), "draining") << agents.dump();
  EXPECT_TRUE(agents[0].value("drain_requested", false)) << agents.dump();

  const json resumed = FarmctlJson("agents resume remote-1");
  EXPECT_EQ(resumed.value("state", ""), "online") << resumed.dump();
  CliRun unknown = Farmctl("agents drain nobody");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out;
  EXPECT_NE(unknown.out.find("nobody"), std::string::npos) << unknown.out;
}

}  // namespace
