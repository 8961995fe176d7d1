// The agent's connection loop against a stand-in coordinator on loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "farm/agent/agent.h"
#include "farm/agent/synthetic_runner.h"
#include "farm/schemas/sha256.h"
#include "stand_in_coordinator.h"

namespace farm::agent {
namespace {

namespace v1 = studiofarm::v1;
using farm::testing::AssembleUpload;
using farm::testing::Received;
using farm::testing::StandInCoordinator;
using std::chrono::milliseconds;

constexpr milliseconds kWait{5000};
constexpr char kAgentId[] = "agent-under-test";

class AgentLoopTest : public ::testing::Test {
 protected:
  void StartAgent(uint32_t slots = 1, uint32_t prefetch = 0) {
    ASSERT_TRUE(registry_.Register(std::make_unique<SyntheticRunner>()).ok());
    AgentOptions options;
    options.endpoint = coordinator_.endpoint();
    options.agent_id = kAgentId;
    options.slots = slots;
    options.prefetch = prefetch;
    options.heartbeat_interval = milliseconds(100);
    options.heartbeat_liveness = 5;
    coordinator_.heartbeat_liveness = 5;  // the Welcome sets what the agent uses
    options.reconnect_initial = milliseconds(200);
    options.reconnect_max = milliseconds(1600);
    options.shutdown_grace = milliseconds(200);
    options.shutdown_ack_wait = milliseconds(300);
    StatusOr<std::unique_ptr<Agent>> agent = Agent::Create(options, &registry_);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(agent).value();
    thread_ = std::thread([this] { run_status_ = agent_->Run(stop_); });
  }

  void TearDown() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
  }

  // Waits for the agent's heartbeat that lists `count` active leases.
  bool WaitForActiveLeases(int count) {
    return coordinator_
        .WaitUntil(
            [count](const Received& r) {
              return r.envelope.has_heartbeat() &&
                     r.envelope.heartbeat().active_leases_size() == count;
            },
            kWait)
        .has_value();
  }

  std::optional<Received> WaitForResult(uint64_t job_id) {
    return coordinator_.WaitUntil(
        [job_id](const Received& r) {
          return r.envelope.has_job_result() && r.envelope.job_result().lease().job_id() == job_id;
        },
        kWait);
  }

  StandInCoordinator coordinator_;
  RunnerRegistry registry_;
  std::unique_ptr<Agent> agent_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Status run_status_;
};

TEST_F(AgentLoopTest, RegistersAndAdvertisesOnlyRegisteredKinds) {
  StartAgent(3);
  std::optional<Received> reg = coordinator_.AcceptRegistration(kWait);
  ASSERT_TRUE(reg.has_value());
  EXPECT_EQ(reg->agent_id, kAgentId);
  const v1::Register& r = reg->envelope.register_();
  EXPECT_EQ(r.agent_id(), kAgentId);
  EXPECT_EQ(r.protocol_version(), 1u);
  EXPECT_EQ(r.capabilities().slots(), 3u);
  ASSERT_EQ(r.capabilities().job_kinds_size(), 1);
  EXPECT_EQ(r.capabilities().job_kinds(0), v1::JOB_KIND_SYNTHETIC);
  EXPECT_TRUE(coordinator_.WaitFor(v1::Envelope::kHeartbeat, kWait).has_value());
}

TEST_F(AgentLoopTest, UploadsChunksThenResultAndStopsAfterAck) {
  StartAgent();
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  const std::string params = R"({"cpu_ms": 300, "bytes": 2621447, "seed": 9})";
  coordinator_.SendOffer(kAgentId, 7, 1, v1::JOB_KIND_SYNTHETIC, params);
  std::optional<Received> result = WaitForResult(7);
  ASSERT_TRUE(result.has_value());
  const v1::JobResult& r = result->envelope.job_result();
  ASSERT_EQ(r.status(), v1::RESULT_STATUS_SUCCEEDED) << r.error();
  ASSERT_EQ(r.artifacts_size(), 1);
  const v1::ArtifactDescriptor& d = r.artifacts(0);
  EXPECT_EQ(d.name(), "output");
  EXPECT_EQ(d.size_bytes(), 2621447u);

  std::optional<std::string> uploaded = AssembleUpload(coordinator_.log(), 7, 1, d.sha256());
  ASSERT_TRUE(uploaded.has_value()) << "chunks missing, out of order or not ended";
  EXPECT_EQ(uploaded->size(), d.size_bytes());
  EXPECT_EQ(Sha256Hex(*uploaded), d.sha256());
  EXPECT_EQ(*uploaded, SyntheticBytes(*ParseSyntheticParams(params)));
  int chunks = 0, progress = 0;
  for (const Received& m : coordinator_.log()) {
    chunks += m.envelope.has_artifact_chunk();
    progress += m.envelope.has_progress() && m.envelope.progress().lease().job_id() == 7;
  }
  EXPECT_EQ(chunks, 3);  // 2.5 MiB in chunks of at most 1 MiB
  EXPECT_GE(progress, 1);

  coordinator_.SendAck(kAgentId, 7, 1);
  const std::size_t after_ack = coordinator_.log().size();
  coordinator_.Pump(milliseconds(600));
  for (std::size_t i = after_ack; i < coordinator_.log().size(); ++i) {
    EXPECT_FALSE(coordinator_.log()[i].envelope.has_job_result()) << "result sent after ack";
  }
}

TEST_F(AgentLoopTest, ResendsUnackedResultAfterReconnect) {
  StartAgent();
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  coordinator_.SendOffer(kAgentId, 8, 2, v1::JOB_KIND_SYNTHETIC, R"({"bytes": 1000})");
  std::optional<Received> first = WaitForResult(8);
  ASSERT_TRUE(first.has_value());

  coordinator_.set_answer_heartbeats(false);  // no ack, then silence: the agent must reconnect
  std::optional<Received> again = coordinator_.WaitFor(v1::Envelope::kRegister, kWait);
  ASSERT_TRUE(again.has_value());
  const std::size_t reconnect_index = coordinator_.log().size();
  coordinator_.set_answer_heartbeats(true);
  coordinator_.SendWelcome(kAgentId);

  std::optional<Received> resent = WaitForResult(8);
  ASSERT_TRUE(resent.has_value());
  EXPECT_EQ(resent->envelope.job_result().lease().attempt(), 2u);
  EXPECT_EQ(resent->envelope.job_result().artifacts(0).sha256(),
            first->envelope.job_result().artifacts(0).sha256());
  std::optional<std::string> uploaded =
      AssembleUpload(coordinator_.log(), 8, 2, first->envelope.job_result().artifacts(0).sha256(),
                     reconnect_index);
  ASSERT_TRUE(uploaded.has_value()) << "artifact not re-uploaded before the resent result";
  EXPECT_EQ(uploaded->size(), 1000u);
  coordinator_.SendAck(kAgentId, 8, 2);
}

TEST_F(AgentLoopTest, ReconnectReportsEveryHeldLeaseAndHeartbeatsListThem) {
  StartAgent(2);
  std::optional<Received> first_register = coordinator_.AcceptRegistration(kWait);
  ASSERT_TRUE(first_register.has_value());
  EXPECT_TRUE(first_register->envelope.register_().has_held_leases());
  EXPECT_EQ(first_register->envelope.register_().held_leases().leases_size(), 0);
  coordinator_.SendOffer(kAgentId, 1, 3, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  coordinator_.SendOffer(kAgentId, 2, 1, v1::JOB_KIND_SYNTHETIC, R"({"bytes": 10})");
  ASSERT_TRUE(WaitForResult(2).has_value());
  // Job 2 finished but is not acked: still held, listed beside the running job 1.
  ASSERT_TRUE(WaitForActiveLeases(2)) << "a heartbeat must list unacknowledged results too";

  coordinator_.set_answer_heartbeats(false);  // silence: the agent reconnects, same process
  std::optional<Received> again = coordinator_.WaitFor(v1::Envelope::kRegister, kWait);
  ASSERT_TRUE(again.has_value());
  std::set<std::pair<uint64_t, uint32_t>> held;
  for (const v1::LeaseRef& ref : again->envelope.register_().held_leases().leases()) {
    held.insert({ref.job_id(), ref.attempt()});
  }
  EXPECT_EQ(held, (std::set<std::pair<uint64_t, uint32_t>>{{1, 3}, {2, 1}}));
  coordinator_.set_answer_heartbeats(true);
  coordinator_.SendWelcome(kAgentId);
  coordinator_.SendAck(kAgentId, 2, 1);
  coordinator_.SendCancel(kAgentId, 1, 3);
  ASSERT_TRUE(WaitForResult(1).has_value());
}

TEST_F(AgentLoopTest, CancelMidJobGivesCancelledResult) {
  StartAgent();
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  coordinator_.SendOffer(kAgentId, 9, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  ASSERT_TRUE(WaitForActiveLeases(1));
  coordinator_.SendCancel(kAgentId, 9, 1);
  std::optional<Received> result = WaitForResult(9);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->envelope.job_result().status(), v1::RESULT_STATUS_CANCELLED);
  EXPECT_EQ(result->envelope.job_result().artifacts_size(), 0);
  coordinator_.SendAck(kAgentId, 9, 1);
}

TEST_F(AgentLoopTest, SilentCoordinatorGetsReconnectsWithGrowingBackoff) {
  StartAgent();
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  coordinator_.set_answer_heartbeats(false);
  // Silence limit 500 ms (100 ms x 5), then back-off 200, 400, 800 ms between unanswered
  // registrations: gaps of about 900 and 1300 ms.
  std::vector<std::chrono::steady_clock::time_point> registers;
  for (int i = 0; i < 3; ++i) {
    std::optional<Received> reg = coordinator_.WaitFor(v1::Envelope::kRegister, kWait);
    ASSERT_TRUE(reg.has_value()) << "registration " << i;
    registers.push_back(reg->at);
  }
  const auto gap1 = registers[1] - registers[0];
  const auto gap2 = registers[2] - registers[1];
  EXPECT_GE(gap1, milliseconds(850));  // 500 silence + 400 back-off, less timer slack
  EXPECT_GT(gap2, gap1 + milliseconds(200));

  // A Welcome resets the back-off: the next reconnect comes after 500 + 200 ms again.
  coordinator_.SendWelcome(kAgentId);
  ASSERT_TRUE(coordinator_.WaitFor(v1::Envelope::kHeartbeat, kWait).has_value());
  const auto silent_from = std::chrono::steady_clock::now();
  std::optional<Received> reg = coordinator_.WaitFor(v1::Envelope::kRegister, kWait);
  ASSERT_TRUE(reg.has_value());
  EXPECT_LT(reg->at - silent_from, gap2);
}

TEST_F(AgentLoopTest, TwoSlotsRunTwoJobsAtOnceAndReleaseAThird) {
  StartAgent(2);
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  coordinator_.SendOffer(kAgentId, 1, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  coordinator_.SendOffer(kAgentId, 2, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  ASSERT_TRUE(WaitForActiveLeases(2)) << "both jobs should be running at the same time";
  coordinator_.SendOffer(kAgentId, 3, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 10})");
  std::optional<Received> third = WaitForResult(3);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->envelope.job_result().status(), v1::RESULT_STATUS_RELEASED);
  EXPECT_NE(third->envelope.job_result().error().find("busy"), std::string::npos);
  EXPECT_TRUE(third->envelope.job_result().refused_busy()) << "farmd must not count it";
  coordinator_.SendCancel(kAgentId, 1, 1);
  coordinator_.SendCancel(kAgentId, 2, 1);
  std::set<uint64_t> cancelled;  // the two results may come in either order
  coordinator_.WaitUntil(
      [&cancelled](const Received& r) {
        if (r.envelope.has_job_result() &&
            r.envelope.job_result().status() == v1::RESULT_STATUS_CANCELLED) {
          cancelled.insert(r.envelope.job_result().lease().job_id());
        }
        return cancelled.size() == 2;
      },
      kWait);
  EXPECT_EQ(cancelled, (std::set<uint64_t>{1, 2}));
}

TEST_F(AgentLoopTest, PrefetchQueuesAnOfferBehindTheRunningJobAndRefusesBeyondIt) {
  StartAgent(1, 1);
  std::optional<Received> reg = coordinator_.AcceptRegistration(kWait);
  ASSERT_TRUE(reg.has_value());
  EXPECT_EQ(reg->envelope.register_().capabilities().prefetch(), 1u);
  coordinator_.SendOffer(kAgentId, 1, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  coordinator_.SendOffer(kAgentId, 2, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 10})");
  ASSERT_TRUE(WaitForActiveLeases(2)) << "the queued lease is held (and renewed) too";
  coordinator_.SendOffer(kAgentId, 3, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 10})");
  std::optional<Received> third = WaitForResult(3);
  ASSERT_TRUE(third.has_value());
  EXPECT_TRUE(third->envelope.job_result().refused_busy());
  // Job 2 waits for the one slot: no result while job 1 runs.
  EXPECT_FALSE(coordinator_
                   .WaitUntil(
                       [](const Received& r) {
                         return r.envelope.has_job_result() &&
                                r.envelope.job_result().lease().job_id() == 2;
                       },
                       milliseconds(300))
                   .has_value());
  coordinator_.SendCancel(kAgentId, 1, 1);
  std::optional<Received> second = WaitForResult(2);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->envelope.job_result().status(), v1::RESULT_STATUS_SUCCEEDED);
}

TEST_F(AgentLoopTest, ACancelledQueuedJobEndsAtOnceUnrun) {
  StartAgent(1, 1);
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  coordinator_.SendOffer(kAgentId, 1, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  coordinator_.SendOffer(kAgentId, 2, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  ASSERT_TRUE(WaitForActiveLeases(2));
  coordinator_.SendCancel(kAgentId, 2, 1);
  std::optional<Received> second = WaitForResult(2);  // while job 1 still holds the slot
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->envelope.job_result().status(), v1::RESULT_STATUS_CANCELLED);
  EXPECT_EQ(second->envelope.job_result().error(), "stopped before a slot started it");
  coordinator_.SendAck(kAgentId, 2, 1);
  EXPECT_TRUE(WaitForActiveLeases(1)) << "job 1 runs on";
  coordinator_.SendCancel(kAgentId, 1, 1);
  ASSERT_TRUE(WaitForResult(1).has_value());
}

TEST_F(AgentLoopTest, AGangRankIsNeverQueued) {
  StartAgent(1, 1);
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  coordinator_.SendOffer(kAgentId, 1, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  ASSERT_TRUE(WaitForActiveLeases(1));
  // Its ranks must start together: a rank behind another job would stall the whole gang.
  v1::Envelope gang;
  v1::JobOffer* offer = gang.mutable_job_offer();
  offer->mutable_lease()->set_job_id(2);
  offer->mutable_lease()->set_attempt(1);
  offer->set_kind(v1::JOB_KIND_SYNTHETIC);
  offer->set_params_json(R"({"cpu_ms": 10})");
  offer->set_gang_rank(0);
  offer->set_gang_size(2);
  coordinator_.Send(kAgentId, gang);
  std::optional<Received> refused = WaitForResult(2);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->envelope.job_result().status(), v1::RESULT_STATUS_RELEASED);
  EXPECT_TRUE(refused->envelope.job_result().refused_busy());
  coordinator_.SendCancel(kAgentId, 1, 1);
  ASSERT_TRUE(WaitForResult(1).has_value());
}

TEST_F(AgentLoopTest, MalformedFramesDoNotCrashTheAgent) {
  StartAgent();
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  coordinator_.SendRawFrames(kAgentId, {std::string("\xff\xff\xff\x01garbage", 11)});
  coordinator_.SendRawFrames(kAgentId, {""});
  coordinator_.SendRawFrames(kAgentId, {"two", "frames"});
  v1::Envelope unexpected;
  unexpected.mutable_register_()->set_agent_id("confused");
  coordinator_.Send(kAgentId, unexpected);
  coordinator_.SendOffer(kAgentId, 20, 1, v1::JOB_KIND_RENDER, "{}");
  std::optional<Received> refused = WaitForResult(20);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->envelope.job_result().status(), v1::RESULT_STATUS_FAILED);
  EXPECT_NE(refused->envelope.job_result().error().find("no runner"), std::string::npos);
  coordinator_.SendOffer(kAgentId, 21, 1, v1::JOB_KIND_SYNTHETIC, R"({"bytes": 5, "seed": "x"})");
  std::optional<Received> bad_params = WaitForResult(21);
  ASSERT_TRUE(bad_params.has_value());
  EXPECT_EQ(bad_params->envelope.job_result().status(), v1::RESULT_STATUS_FAILED);
  EXPECT_NE(bad_params->envelope.job_result().error().find("seed"), std::string::npos);

  coordinator_.SendOffer(kAgentId, 22, 1, v1::JOB_KIND_SYNTHETIC, R"({"bytes": 5})");
  std::optional<Received> ok = WaitForResult(22);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->envelope.job_result().status(), v1::RESULT_STATUS_SUCCEEDED);
}

TEST_F(AgentLoopTest, StopReleasesRunningJobAndReturnsOk) {
  StartAgent();
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  coordinator_.SendOffer(kAgentId, 30, 1, v1::JOB_KIND_SYNTHETIC, R"({"cpu_ms": 60000})");
  ASSERT_TRUE(WaitForActiveLeases(1));
  stop_ = true;
  std::optional<Received> result = WaitForResult(30);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->envelope.job_result().status(), v1::RESULT_STATUS_RELEASED);
  coordinator_.SendAck(kAgentId, 30, 1);
  thread_.join();  // returns once the ack arrived; TearDown checks the status
}

TEST_F(AgentLoopTest, NotRegisteredErrorMakesItRegisterAgain) {
  StartAgent();
  ASSERT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
  v1::Envelope error;
  error.mutable_error()->set_code(v1::ERROR_CODE_NOT_REGISTERED);
  error.mutable_error()->set_message("who are you");
  coordinator_.Send(kAgentId, error);
  EXPECT_TRUE(coordinator_.AcceptRegistration(kWait).has_value());
}

TEST_F(AgentLoopTest, ProtocolMismatchStopsTheAgentWithAnError) {
  StartAgent();
  std::optional<Received> reg = coordinator_.WaitFor(v1::Envelope::kRegister, kWait);
  ASSERT_TRUE(reg.has_value());
  v1::Envelope error;
  error.mutable_error()->set_code(v1::ERROR_CODE_PROTOCOL_MISMATCH);
  error.mutable_error()->set_message("farmd speaks protocol 2");
  coordinator_.Send(kAgentId, error);
  thread_.join();  // Run returns by itself, without the stop flag
  EXPECT_EQ(run_status_.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(run_status_.message().find("protocol 2"), std::string::npos);
  run_status_ = Status::Ok();  // expected failure, checked above
}

}  // namespace
}  // namespace farm::agent
