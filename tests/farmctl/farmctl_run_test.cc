// `farmctl run` end to end: farmd and two agents as children on loopback (CURVE on),
// a tiny synthetic sweep, resume on the same database, refusal of a bad spec before any
// process starts, and the query verbs against a dead endpoint.
#include <fcntl.h>
#include <gtest/gtest.h>

#include "shell_run.h"
#include <signal.h>
#include <spawn.h>
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

extern char** environ;

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
  CliRun first = Farmctl("run '" + spec + "' --agents 2 " + Db() + " --json", false);
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
  CliRun again = Farmctl("run '" + spec + "' --agents 2 " + Db() + " --json", false);
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
  CliRun run = Farmctl("run '" + spec + "' " + Db());
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("bad.yaml:"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("unknown sampler"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(dir_ / "state")) << "a process or key was made for a bad spec";
}

TEST_F(FarmctlRunTest, MissingPhotosExitOneBeforeStartingAnything) {
  fs::remove_all(dir_ / "photos");
  CliRun run = Farmctl("run '" + WriteSpec("tiny.yaml") + "' " + Db());
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("no photos match"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(dir_ / "state"));
}

TEST_F(FarmctlRunTest, AFarmdThatDiesAtStartIsReportedWithItsLog) {
  const std::string spec = WriteSpec("tiny.yaml");
  CliRun dies = Farmctl("run '" + spec + "' " + Db() + " --farmd /bin/false");
  EXPECT_EQ(dies.exit_code, 1) << dies.out;
  EXPECT_NE(dies.out.find("farmd exited (status 1)"), std::string::npos) << dies.out;
  EXPECT_NE(dies.out.find("farmd.log"), std::string::npos) << dies.out;
  CliRun missing = Farmctl("run '" + spec + "' " + Db() + " --farmd /no/such/farmd");
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
  std::vector<std::string> args = {FARMCTL_PATH, "run", spec, "--agents", "2", "--db", db};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = (dir_ / "farmctl.log").string();
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, FARMCTL_PATH, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);

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

}  // namespace
