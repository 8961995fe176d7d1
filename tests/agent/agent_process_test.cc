// The farm-agent binary as a child process: SIGTERM mid-job releases the job and exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "stand_in_coordinator.h"

namespace farm::agent {
namespace {

namespace v1 = studiofarm::v1;
using farm::testing::Received;
using farm::testing::StandInCoordinator;
using std::chrono::milliseconds;

constexpr milliseconds kWait{5000};

// A child farm-agent that is killed if the test ends without reaping it.
class ChildAgent {
 public:
  explicit ChildAgent(const std::vector<std::string>& args) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      std::string binary = FARM_AGENT_BINARY;
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~ChildAgent() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }

  // The exit status, or -1 if it did not exit within `timeout`.
  int WaitExit(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

TEST(AgentProcessTest, SigtermMidJobReleasesItAndExitsZero) {
  StandInCoordinator coordinator;
  ChildAgent child({"--connect", coordinator.endpoint(), "--id", "proc-agent", "--slots", "1",
                    "--heartbeat-ms", "100", "--shutdown-grace-ms", "200"});
  ASSERT_GT(child.pid(), 0);
  std::optional<Received> reg = coordinator.AcceptRegistration(kWait);
  ASSERT_TRUE(reg.has_value()) << "farm-agent did not register";
  coordinator.SendOffer("proc-agent", 5, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  ASSERT_TRUE(coordinator
                  .WaitUntil(
                      [](const Received& r) {
                        return r.envelope.has_heartbeat() &&
                               r.envelope.heartbeat().active_leases_size() == 1;
                      },
                      kWait)
                  .has_value());

  ASSERT_EQ(::kill(child.pid(), SIGTERM), 0);
  std::optional<Received> result = coordinator.WaitFor(v1::Envelope::kJobResult, kWait);
  ASSERT_TRUE(result.has_value()) << "no result after SIGTERM";
  const v1::JobResult& r = result->envelope.job_result();
  EXPECT_EQ(r.lease().job_id(), 5u);
  EXPECT_TRUE(r.status() == v1::RESULT_STATUS_RELEASED || r.status() == v1::RESULT_STATUS_SUCCEEDED)
      << v1::ResultStatus_Name(r.status());
  coordinator.SendAck("proc-agent", 5, 1);
  EXPECT_EQ(child.WaitExit(kWait), 0);
}

TEST(AgentProcessTest, BadFlagsExitNonZero) {
  ChildAgent child({"--connect", "tcp://127.0.0.1:1", "--id", "x", "--server-key", "short"});
  ASSERT_GT(child.pid(), 0);
  const int code = child.WaitExit(kWait);
  EXPECT_NE(code, 0);
  EXPECT_NE(code, -1);
}

}  // namespace
}  // namespace farm::agent
