// `farmctl run` end to end: farmd and two agents as children on loopback (CURVE on),
// a tiny synthetic sweep, resume on the same database, refusal of a bad spec before any
// process starts, the query verbs against a dead endpoint, and `watch` against a farmd
// the test starts itself.
#include <gtest/gtest.h>

#include "shell_run.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

using farmctl_test::CliRun;
using farmctl_test::Shell;

class FarmctlRunTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) /
           ("farmctl_run_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "photos");
    std::ofstream(dir_ / "photos" / "a.jpg") << "not really a photo";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Eight renders; the checkpoint by hash only, the photos by a glob next to the spec.
  std::string WriteSpec(const std::string& name, const std::string& sampler = "Euler",
                        const std::string& seeds = "[1, 2, 3, 4, 5, 6, 7, 8]") const {
    const fs::path path = dir_ / name;
    std::ofstream(path)
        << "name: tiny\n"
           "identity:\n  name: t\n  photos: \"photos/*.jpg\"\n  token: sks person\n"
           "checkpoint:\n  path: none.safetensors\n"
           "  sha256: 9e194ae96bc93e7bbd668c1782ac0a1c7db5b2a0a0789512c12a0cba330d20bc\n"
           "render:\n  prompt: \"photo of {token}\"\n  size: 64x64\n  steps: 4\n"
           "  cfg: 7\n  sampler: " +
               sampler + "\n  seeds: " + seeds + "\n";
    return path.string();
  }

  CliRun Farmctl(const std::string& args, bool merge_stderr = true) const {
    return Shell("cd '" + dir_.string() +
                 "' && STUDIOFARM_DB= STUDIOFARM_ENDPOINT= '" FARMCTL_PATH "' " + args +
                 (merge_stderr ? " 2>&1" : " 2>/dev/null"));
  }

  std::string Sql(const std::string& query) const {
    CliRun run = Shell("sqlite3 -readonly '" + (dir_ / "state" / "farm.db").string() + "' \"" +
                       query + "\" 2>&1");
    while (!run.out.empty() && run.out.back() == '\n') run.out.pop_back();
    return run.out;
  }

  std::string Db() const { return "--db '" + (dir_ / "state" / "farm.db").string() + "'"; }

  fs::path dir_;
};

TEST_F(FarmctlRunTest, RunsEveryJobOnceAndResumesWithoutRedoingThem) {
  if (Shell("command -v sqlite3 >/dev/null").exit_code != 0) GTEST_SKIP() << "no sqlite3 CLI";
  const std::string spec = WriteSpec("tiny.yaml");
  CliRun first = Farmctl("run --synthetic '" + spec + "' --agents 2 " + Db() + " --json", false);
  ASSERT_EQ(first.exit_code, 0)
      << first.out << "\nfarmd log:\n"
      << Shell("tail -30 '" + (dir_ / "state/logs/farmd.log").string() + "'").out;
  const auto summary = nlohmann::json::parse(first.out, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << first.out;
  EXPECT_EQ(summary.value("ok", false), true);
  EXPECT_EQ(summary["counts"].value("succeeded", 0), 8) << first.out;

  EXPECT_EQ(Sql("SELECT count(*) FROM jobs"), "8");
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE state = 'succeeded'"), "8");
  // Exactly one successful attempt per job.
  EXPECT_EQ(Sql("SELECT count(*) FROM attempts WHERE outcome = 'succeeded'"), "8");
  EXPECT_EQ(Sql("SELECT count(*) FROM (SELECT job_id FROM attempts WHERE outcome = 'succeeded' "
                "GROUP BY job_id HAVING count(*) = 1)"),
            "8");
  const std::string attempts = Sql("SELECT count(*) FROM attempts");
  // Keys are private: the directory 0700, secrets 0600.
  const fs::path keys = dir_ / "state" / "keys";
  EXPECT_EQ(fs::status(keys).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(keys / "server.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  const auto start = std::chrono::steady_clock::now();
  CliRun again = Farmctl("run --synthetic '" + spec + "' --agents 2 " + Db() + " --json", false);
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_LT(seconds, 30.0) << again.out;
  EXPECT_EQ(Sql("SELECT count(*) FROM attempts"), attempts) << "the resume redid work";
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE state <> 'succeeded'"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs"), "8");
  const auto resumed = nlohmann::json::parse(again.out, nullptr, false);
  ASSERT_FALSE(resumed.is_discarded()) << again.out;
  EXPECT_EQ(resumed.value("resumed", false), true) << again.out;
  EXPECT_EQ(resumed["counts"].value("succeeded", 0), 8) << again.out;
}

TEST_F(FarmctlRunTest, InvalidSpecExitsOneBeforeStartingAnything) {
  const std::string spec = WriteSpec("bad.yaml", "euler");  // wrong case: not a sampler
  CliRun run = Farmctl("run --synthetic '" + spec + "' " + Db());
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("bad.yaml:"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("unknown sampler"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(dir_ / "state")) << "a process or key was made for a bad spec";
}

TEST_F(FarmctlRunTest, MissingPhotosExitOneBeforeStartingAnything) {
  fs::remove_all(dir_ / "photos");
  CliRun run = Farmctl("run --synthetic '" + WriteSpec("tiny.yaml") + "' " + Db());
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("no photos match"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(dir_ / "state"));
}

TEST_F(FarmctlRunTest, AFarmdThatDiesAtStartIsReportedWithItsLog) {
  const std::string spec = WriteSpec("tiny.yaml");
  CliRun dies = Farmctl("run --synthetic '" + spec + "' " + Db() + " --farmd /bin/false");
  EXPECT_EQ(dies.exit_code, 1) << dies.out;
  EXPECT_NE(dies.out.find("farmd exited (status 1)"), std::string::npos) << dies.out;
  EXPECT_NE(dies.out.find("farmd.log"), std::string::npos) << dies.out;
  CliRun missing = Farmctl("run --synthetic '" + spec + "' " + Db() + " --farmd /no/such/farmd");
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find("/no/such/farmd"), std::string::npos) << missing.out;
}

TEST_F(FarmctlRunTest, QueryVerbsAgainstADeadEndpointExplainAndExitOne) {
  // Port 1 on loopback: nothing listens there in a test environment.
  for (const char* verb : {"status", "status 3", "agents", "jobs --sweep 1", "cancel 1"}) {
    CliRun run = Farmctl(std::string(verb) + " --endpoint 127.0.0.1:1 --token t");
    EXPECT_EQ(run.exit_code, 1) << verb << ": " << run.out;
    EXPECT_NE(run.out.find("cannot connect to farmd at 127.0.0.1:1"), std::string::npos)
        << verb << ": " << run.out;
  }
  CliRun none = Farmctl("status");
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_NE(none.out.find("--endpoint"), std::string::npos) << none.out;
  EXPECT_EQ(Farmctl("jobs --endpoint 127.0.0.1:1").exit_code, 2) << "--sweep is required";
  EXPECT_EQ(Farmctl("cancel --endpoint 127.0.0.1:1").exit_code, 2) << "what to cancel?";
}

TEST_F(FarmctlRunTest, AgentCountDefaultsToTheFarmConfig) {
  // A config folder of its own: local.yaml asks for three agents, no presets.
  fs::create_directories(dir_ / "configs");
  std::ofstream(dir_ / "configs" / "local.yaml")
      << "agents:\n  count: 3\n  slots: 1\n  device: cpu\n  threads: 2\n";
  CliRun run = Farmctl("run --synthetic '" + WriteSpec("tiny.yaml") + "' " + Db() + " --config-dir '" +
                           (dir_ / "configs").string() + "' --json",
                       false);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_TRUE(fs::exists(dir_ / "state" / "logs" / "agent-3.log"));
  EXPECT_FALSE(fs::exists(dir_ / "state" / "logs" / "agent-4.log"));
  const std::string log = Shell("cat '" + (dir_ / "state" / "logs" / "agent-1.log").string() + "'").out;
  EXPECT_NE(log.find("1 slots, 2 threads per job"), std::string::npos) << log;
}

TEST_F(FarmctlRunTest, ABadAgentCountInTheFarmConfigNamesFileLineAndExpectedValue) {
  fs::create_directories(dir_ / "configs");
  const std::string config = (dir_ / "configs" / "local.yaml").string();
  const std::string spec = WriteSpec("tiny.yaml");
  for (const char* value : {"two", "0", "300", "2.5", "[1, 2]"}) {
    std::ofstream(config) << "# local farm\nagents:\n  count: " << value << "\n";
    CliRun run = Farmctl("run --synthetic '" + spec + "' " + Db() + " --config-dir '" +
                         (dir_ / "configs").string() + "'");
    EXPECT_EQ(run.exit_code, 1) << value << ": " << run.out;
    EXPECT_NE(run.out.find(config + ":3: agents.count"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("expected an integer from 1 to 256"), std::string::npos) << run.out;
    EXPECT_FALSE(fs::exists(dir_ / "state")) << "a process or key was made for a bad config";
  }
  for (const char* value : {"gpu", "cuda:x", "[cpu]"}) {
    std::ofstream(config) << "# local farm\nagents:\n  device: " << value << "\n";
    CliRun run = Farmctl("run --synthetic '" + spec + "' " + Db() + " --config-dir '" +
                         (dir_ / "configs").string() + "'");
    EXPECT_EQ(run.exit_code, 1) << value << ": " << run.out;
    EXPECT_NE(run.out.find(config + ":3: agents.device"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("expected cpu, cuda or cuda:N"), std::string::npos) << run.out;
  }
  // The shipped config is valid.
  const std::string shipped = std::string(FARM_SOURCE_DIR) + "/farm_configs";
  EXPECT_EQ(Farmctl("run --synthetic '" + spec + "' " + Db() + " --config-dir '" + shipped +
                    "' --agents 1 --json", false).exit_code,
            0);
}

// Processes whose command line mentions `needle` (our farmd and agents name the state dir).
int ProcessesMentioning(const std::string& needle) {
  int found = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos) ++found;
  }
  return found;
}

TEST_F(FarmctlRunTest, InterruptCancelsTheSweepStopsTheFarmAndExits130) {
  if (Shell("command -v sqlite3 >/dev/null").exit_code != 0) GTEST_SKIP() << "no sqlite3 CLI";
  // 400 synthetic jobs of ~50 ms on two agents: about ten seconds of work.
  std::string seeds = "[";
  for (int i = 1; i <= 400; ++i) seeds += (i > 1 ? ", " : "") + std::to_string(i);
  seeds += "]";
  const std::string spec = WriteSpec("big.yaml", "Euler", seeds);
  const std::string db = (dir_ / "state" / "farm.db").string();
  std::vector<std::string> args = {FARMCTL_PATH, "run", "--synthetic", spec, "--agents", "2", "--db", db};
  const std::string log = (dir_ / "farmctl.log").string();
  const pid_t pid = farmctl_test::SpawnWithLog(args, -1, log);
  ASSERT_GT(pid, 0);

  // Interrupt once some, but not all, jobs are done.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int done = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string count =
        fs::exists(db) ? Sql("SELECT count(*) FROM jobs WHERE state = 'succeeded'") : "0";
    done = std::atoi(count.c_str());
    if (done >= 5) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(done, 5) << Shell("cat '" + log + "'").out;
  // The run's API token (printed with the dashboard address) is on no command line that
  // `ps` shows: farmd was given its digest.
  const std::string printed = farmctl_test::FileBytes(log);
  const std::size_t at = printed.find("#token=");
  ASSERT_NE(at, std::string::npos) << printed;
  const std::string token = printed.substr(at + 7, 64);
  EXPECT_EQ(token.size(), 64u) << printed;
  EXPECT_GE(ProcessesMentioning((dir_ / "state").string()), 1) << "no farm processes to look at";
  EXPECT_EQ(ProcessesMentioning(token), 0) << "the API token is on a command line";
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << Shell("cat '" + log + "'").out;
  EXPECT_EQ(WEXITSTATUS(status), 130) << Shell("cat '" + log + "'").out;
  EXPECT_EQ(Sql("SELECT state FROM sweeps"), "cancelled");
  EXPECT_NE(Sql("SELECT count(*) FROM jobs WHERE state = 'succeeded'"), "400");
  EXPECT_EQ(ProcessesMentioning((dir_ / "state").string()), 0)
      << "farmd or an agent outlived farmctl";
}

// A farmd (no CURVE, loopback) and farm-agents started by the test itself, so `watch`
// is exercised against a farm it did not start.
class FarmctlWatchTest : public FarmctlRunTest {
 protected:
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    FarmctlRunTest::TearDown();
  }

  pid_t Spawn(std::vector<std::string> args, int stdout_fd, const std::string& log) {
    const pid_t pid = farmctl_test::SpawnWithLog(std::move(args), stdout_fd, log);
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

  // Starts farmd and returns its ready line (endpoints as JSON); `config` is optional.
  nlohmann::json StartFarmd(const std::string& config = "") {
    fs::create_directories(dir_ / "state");
    std::vector<std::string> args = {FARMD_PATH,      "--no-curve",
                                     "--db",          (dir_ / "state" / "farm.db").string(),
                                     "--artifacts",   (dir_ / "state" / "artifacts").string(),
                                     "--listen-agents", "tcp://127.0.0.1:0",
                                     "--listen-http", "127.0.0.1:0",
                                     "--token",       "watch-token",
                                     "--spec-dir",    dir_.string()};
    if (!config.empty()) {
      std::ofstream(dir_ / "farmd.yaml") << config;
      args.push_back("--config");
      args.push_back((dir_ / "farmd.yaml").string());
    }
    int fds[2];
    if (::pipe(fds) != 0) return nullptr;
    const pid_t pid = Spawn(args, fds[1], (dir_ / "farmd.log").string());
    ::close(fds[1]);
    std::string line;
    char ch;
    while (pid > 0 && ::read(fds[0], &ch, 1) == 1 && ch != '\n') line += ch;
    ::close(fds[0]);
    return nlohmann::json::parse(line, nullptr, false);
  }

  void StartAgent(const nlohmann::json& ready, const std::string& id) {
    Spawn({FARM_AGENT_PATH, "--connect", ready.value("agent_endpoint", ""), "--id", id,
           "--slots", "2", "--shutdown-grace-ms", "0"},
          -1, (dir_ / (id + ".log")).string());
  }

  std::string Remote(const nlohmann::json& ready) const {
    return " --endpoint " + ready.value("http", "") + " --token watch-token";
  }

  std::int64_t Submit(const nlohmann::json& ready, const std::string& spec,
                      const std::string& flags = "") {
    CliRun run = Farmctl("submit '" + spec + "'" + Remote(ready) + flags + " --json", false);
    const auto answer = nlohmann::json::parse(run.out, nullptr, false);
    if (run.exit_code != 0 || answer.is_discarded()) {
      ADD_FAILURE() << "submit failed: " << run.out;
      return 0;
    }
    return answer.value("sweep_id", std::int64_t{0});
  }

  // `farmctl watch ARGS`, bounded so a sweep that never ends fails the test instead of
  // hanging it (exit 124).
  CliRun Watch(const std::string& args, bool merge_stderr = true) const {
    return Shell("cd '" + dir_.string() + "' && STUDIOFARM_ENDPOINT= timeout 60 '" FARMCTL_PATH
                 "' watch " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null"));
  }

  std::string FarmdLog() const { return Shell("tail -20 '" + (dir_ / "farmd.log").string() + "'").out; }

  std::vector<pid_t> children_;
};

// Every line of `out` parsed as JSON; a line that does not parse fails the test.
std::vector<nlohmann::json> JsonLines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    lines.push_back(nlohmann::json::parse(line, nullptr, false));
    EXPECT_FALSE(lines.back().is_discarded()) << "not one JSON object per line: " << line;
  }
  return lines;
}

TEST_F(FarmctlWatchTest, FollowsASweepToTheEndAndExitsZero) {
  const nlohmann::json ready = StartFarmd();
  ASSERT_TRUE(ready.is_object() && ready.contains("http")) << ready.dump() << FarmdLog();
  const std::int64_t sweep = Submit(ready, WriteSpec("tiny.yaml"), " --synthetic");
  ASSERT_GT(sweep, 0);
  StartAgent(ready, "w1");

  // Submitted but not necessarily started: watch follows it from queued to done.
  CliRun json_run =
      Watch(std::to_string(sweep) + Remote(ready) + " --interval-ms 100 --json",
              false);
  ASSERT_EQ(json_run.exit_code, 0) << json_run.out << FarmdLog();
  const std::vector<nlohmann::json> lines = JsonLines(json_run.out);
  ASSERT_GE(lines.size(), 2u) << json_run.out;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i].value("event", ""), "progress") << lines[i].dump();
    EXPECT_EQ(lines[i].value("sweep_id", std::int64_t{0}), sweep);
    EXPECT_EQ(lines[i]["counts"].value("total", 0), 8) << lines[i].dump();
    EXPECT_TRUE(lines[i].contains("jobs_per_s") && lines[i].contains("eta_s"));
  }
  const nlohmann::json& done = lines.back();
  EXPECT_EQ(done.value("event", ""), "done") << done.dump();
  EXPECT_EQ(done.value("ok", false), true) << done.dump();
  EXPECT_EQ(done["counts"].value("succeeded", 0), 8) << done.dump();

  // People get the bar and a summary on stderr; without SWEEP_ID the newest sweep.
  CliRun plain = Watch(Remote(ready));
  EXPECT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.out.find("sweep " + std::to_string(sweep) + " finished: 8/8 done"),
            std::string::npos)
      << plain.out;
}

TEST_F(FarmctlWatchTest, FailedJobsExitOneWithASummary) {
  if (Shell("command -v curl >/dev/null").exit_code != 0) GTEST_SKIP() << "no curl";
  // One failure per job is final; synthetic jobs asking for more than the agent's output
  // limit fail on it.
  const nlohmann::json ready = StartFarmd("coordinator:\n  max_failures_per_job: 1\n");
  ASSERT_TRUE(ready.is_object() && ready.contains("http")) << ready.dump() << FarmdLog();
  std::ifstream in(WriteSpec("tiny.yaml"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir_ / "body.json") << nlohmann::json{{"spec", text},
                                                      {"file_name", "tiny.yaml"},
                                                      {"synthetic", true},
                                                      {"synthetic_cpu_ms", 0},
                                                      {"synthetic_bytes", 1ll << 31}}
                                           .dump();
  CliRun posted = Shell("curl -sf -H 'Authorization: Bearer watch-token' -H "
                        "'Content-Type: application/json' --data-binary @'" +
                        (dir_ / "body.json").string() + "' http://" + ready.value("http", "") +
                        "/api/v1/sweeps");
  ASSERT_EQ(posted.exit_code, 0) << posted.out << FarmdLog();
  const std::int64_t sweep =
      nlohmann::json::parse(posted.out, nullptr, false).value("sweep_id", std::int64_t{0});
  ASSERT_GT(sweep, 0) << posted.out;
  StartAgent(ready, "w1");

  CliRun plain = Watch(std::to_string(sweep) + Remote(ready) + " --interval-ms 100");
  EXPECT_EQ(plain.exit_code, 1) << plain.out << FarmdLog();
  EXPECT_NE(plain.out.find("sweep " + std::to_string(sweep) + " FAILED"), std::string::npos)
      << plain.out;
  EXPECT_NE(plain.out.find("exceeds the limit"), std::string::npos) << plain.out;

  CliRun json_run = Watch(std::to_string(sweep) + Remote(ready) + " --json", false);
  EXPECT_EQ(json_run.exit_code, 1) << json_run.out;
  const std::vector<nlohmann::json> lines = JsonLines(json_run.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().value("event", ""), "done");
  EXPECT_EQ(lines.back().value("ok", true), false);
  EXPECT_GT(lines.back()["counts"].value("failed", 0), 0) << lines.back().dump();
  EXPECT_FALSE(lines.back()["first_errors"].empty()) << lines.back().dump();
}

TEST_F(FarmctlWatchTest, ErrorsExplainAndExitOne) {
  const nlohmann::json ready = StartFarmd();
  ASSERT_TRUE(ready.is_object() && ready.contains("http")) << ready.dump() << FarmdLog();
  CliRun none = Watch(Remote(ready));
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_NE(none.out.find("no sweeps yet"), std::string::npos) << none.out;
  CliRun unknown = Watch("99" + Remote(ready) + " --json", false);
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out;
  const std::vector<nlohmann::json> lines = JsonLines(unknown.out);
  ASSERT_EQ(lines.size(), 1u) << unknown.out;
  EXPECT_EQ(lines[0].value("event", ""), "error");
  CliRun token = Watch("1 --endpoint " + ready.value("http", "") + " --token wrong");
  EXPECT_EQ(token.exit_code, 1) << token.out;
  EXPECT_NE(token.out.find("token"), std::string::npos) << token.out;
  CliRun dead = Watch("1 --endpoint 127.0.0.1:1 --interval-ms 50");
  EXPECT_EQ(dead.exit_code, 1) << dead.out;
  EXPECT_NE(dead.out.find("cannot connect to farmd at 127.0.0.1:1"), std::string::npos)
      << dead.out;
  EXPECT_EQ(Watch("0 --endpoint 127.0.0.1:1").exit_code, 2) << "ids are positive";
}

}  // namespace
