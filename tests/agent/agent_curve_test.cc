// The agent over CURVE: a right server key registers; a wrong one never gets through.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "farm/agent/agent.h"
#include "farm/agent/synthetic_runner.h"
#include "stand_in_coordinator.h"

namespace farm::agent {
namespace {

namespace v1 = studiofarm::v1;
using farm::testing::Received;
using farm::testing::StandInCoordinator;
using std::chrono::milliseconds;

// Runs an agent on its own thread until destroyed.
class RunningAgent {
 public:
  RunningAgent(const std::string& endpoint, const std::string& server_key,
               std::optional<CurveKeyPair> own_keys) {
    EXPECT_TRUE(registry_.Register(std::make_unique<SyntheticRunner>()).ok());
    AgentOptions options;
    options.endpoint = endpoint;
    options.agent_id = "curve-agent";
    options.server_public_key = server_key;
    options.client_keys = std::move(own_keys);
    options.heartbeat_interval = milliseconds(100);
    options.reconnect_initial = milliseconds(100);
    options.shutdown_ack_wait = milliseconds(100);
    StatusOr<std::unique_ptr<Agent>> agent = Agent::Create(options, &registry_);
    EXPECT_TRUE(agent.ok()) << agent.status().ToString();
    if (!agent.ok()) return;
    agent_ = std::move(agent).value();
    thread_ = std::thread([this] { status_ = agent_->Run(stop_); });
  }
  ~RunningAgent() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    EXPECT_TRUE(status_.ok()) << status_.ToString();
  }

 private:
  RunnerRegistry registry_;
  std::unique_ptr<Agent> agent_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Status status_;
};

TEST(AgentCurveTest, RegistersAndRunsAJobOverCurve) {
  StatusOr<CurveKeyPair> server = GenerateCurveKeyPair();
  StatusOr<CurveKeyPair> client = GenerateCurveKeyPair();
  ASSERT_TRUE(server.ok() && client.ok());
  StandInCoordinator coordinator(server->secret_key);
  RunningAgent agent(coordinator.endpoint(), server->public_key, *client);
  std::optional<Received> reg = coordinator.AcceptRegistration(milliseconds(5000));
  ASSERT_TRUE(reg.has_value()) << "no registration over CURVE";
  coordinator.SendOffer("curve-agent", 1, 1, v1::JOB_KIND_SYNTHETIC, R"({"bytes": 10})");
  std::optional<Received> result =
      coordinator.WaitFor(v1::Envelope::kJobResult, milliseconds(5000));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->envelope.job_result().status(), v1::RESULT_STATUS_SUCCEEDED);
  coordinator.SendAck("curve-agent", 1, 1);
}

TEST(AgentCurveTest, EphemeralClientKeyWorksWhenNoneIsGiven) {
  StatusOr<CurveKeyPair> server = GenerateCurveKeyPair();
  ASSERT_TRUE(server.ok());
  StandInCoordinator coordinator(server->secret_key);
  RunningAgent agent(coordinator.endpoint(), server->public_key, std::nullopt);
  EXPECT_TRUE(coordinator.AcceptRegistration(milliseconds(5000)).has_value());
}

TEST(AgentCurveTest, WrongServerKeyNeverRegisters) {
  StatusOr<CurveKeyPair> server = GenerateCurveKeyPair();
  StatusOr<CurveKeyPair> impostor = GenerateCurveKeyPair();
  ASSERT_TRUE(server.ok() && impostor.ok());
  StandInCoordinator coordinator(server->secret_key);
  RunningAgent agent(coordinator.endpoint(), impostor->public_key, std::nullopt);
  EXPECT_FALSE(coordinator.WaitFor(v1::Envelope::kRegister, milliseconds(1000)).has_value());
}

}  // namespace
}  // namespace farm::agent
