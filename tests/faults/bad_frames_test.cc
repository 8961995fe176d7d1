// Bad frames against the real farmd while a legitimate agent runs a sweep: a raw ZeroMQ
// DEALER with an admitted CURVE key (so it passes ZAP) sends garbage, truncated,
// oversized and multi-part frames, envelopes of the wrong protocol version or with no
// body, and messages an unregistered agent may not send. farmd must drop or refuse each
// (counted in /metrics, refusals logged and answered with an Error), stay up, and keep
// serving the agent until the sweep completes exactly once. tests/farmd/loop_test.cc
// covers the loop's answers in-process; this is the same against the binary over CURVE.
#include <gtest/gtest.h>

#include <map>
#include <thread>
#include <zmq.hpp>

#include "farm.pb.h"
#include "farm/transport/curve_keys.h"
#include "fault_test.h"
#include "test_farm_util.h"

namespace farm_faults {
namespace {

namespace v1 = studiofarm::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kJobs = 1000;
constexpr int kRounds = 3;
constexpr char kRawId[] = "raw-dealer";

std::string Serialized(const v1::Envelope& envelope) { return envelope.SerializeAsString(); }

v1::Envelope RegisterEnvelope(std::uint32_t protocol_version, const std::string& agent_id) {
  v1::Envelope envelope;
  v1::Register* reg = envelope.mutable_register_();
  reg->set_agent_id(agent_id);
  reg->set_agent_version("0.0.0-raw");
  reg->set_protocol_version(protocol_version);
  reg->set_hostname(std::string(100, 'h'));
  reg->mutable_capabilities()->set_slots(4);
  return envelope;
}

// A DEALER that is an admitted agent as far as CURVE and ZAP are concerned.
class RawDealer {
 public:
  RawDealer(const std::string& endpoint, const std::string& server_public,
            const std::string& public_key, const std::string& secret_key) {
    socket_.set(zmq::sockopt::routing_id, kRawId);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndtimeo, 10000);
    socket_.set(zmq::sockopt::reconnect_ivl, 100);
    socket_.set(zmq::sockopt::curve_serverkey, server_public);
    socket_.set(zmq::sockopt::curve_publickey, public_key);
    socket_.set(zmq::sockopt::curve_secretkey, secret_key);
    socket_.connect(endpoint);
  }

  bool Send(const std::string& frame) {
    return socket_.send(zmq::buffer(frame), zmq::send_flags::none).has_value();
  }
  bool SendParts(const std::vector<std::string>& parts) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      if (!socket_.send(zmq::buffer(parts[i]), flags)) return false;
    }
    return true;
  }

  // Every Error farmd sent back within `wait`, counted by code.
  void CollectErrors(milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, milliseconds(20)) == 0) continue;
      zmq::message_t message;
      while (socket_.recv(message, zmq::recv_flags::dontwait)) {
        v1::Envelope envelope;
        if (envelope.ParseFromArray(message.data(), static_cast<int>(message.size())) &&
            envelope.has_error()) {
          ++errors_[envelope.error().code()];
        }
      }
    }
  }
  int errors(v1::ErrorCode code) const {
    auto it = errors_.find(code);
    return it == errors_.end() ? 0 : it->second;
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::dealer};
  std::map<int, int> errors_;
};

using BadFramesTest = FaultTest;

TEST_F(BadFramesTest, FarmdDropsBadFramesAndKeepsServingItsAgent) {
  auto farm = TestFarm::Create(dir_, {.allowed_agents = 2});
  ASSERT_TRUE(farm.ok()) << farm.status().ToString();
  TestFarm& f = **farm;
  ASSERT_TRUE(f.StartFarmd().ok());
  const pid_t farmd = f.farmd_pid();
  ASSERT_TRUE(f.StartAgent(1, 2).ok());
  auto sweep = f.SubmitSweep(kJobs, 1);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << f.LogTails();

  // agent-2's key is admitted; no farm-agent uses it.
  auto keys = farm::transport::ReadCurveKeyFile(f.agent_key_file(2));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  RawDealer raw(f.agent_endpoint(), f.server_public_key(), keys->public_key, keys->secret_key);

  const std::string good_register = Serialized(RegisterEnvelope(1, kRawId));
  v1::Envelope unregistered_result;
  unregistered_result.mutable_job_result()->mutable_lease()->set_job_id(1);
  unregistered_result.mutable_job_result()->mutable_lease()->set_attempt(1);
  unregistered_result.mutable_job_result()->set_status(v1::RESULT_STATUS_SUCCEEDED);
  v1::Envelope unregistered_beat;
  unregistered_beat.mutable_heartbeat()->set_sent_unix_ms(1);
  v1::Envelope server_only;  // a message only farmd may send
  server_only.mutable_job_offer()->mutable_lease()->set_job_id(1);
  for (int round = 0; round < kRounds; ++round) {
    // Dropped by the link (each counts in dropped_malformed):
    EXPECT_TRUE(raw.Send(std::string(64, '\xff')));                           // not protobuf
    EXPECT_TRUE(raw.Send(good_register.substr(0, good_register.size() / 2)));  // truncated
    EXPECT_TRUE(raw.Send(std::string((8u << 20) + 1024, '\0')));              // oversized
    EXPECT_TRUE(raw.SendParts({good_register, good_register, "x"}));           // multi-part
    // Refused by farmd with an Error:
    EXPECT_TRUE(raw.Send(Serialized(RegisterEnvelope(2, kRawId))));  // wrong version
    EXPECT_TRUE(raw.Send(Serialized(RegisterEnvelope(0, kRawId))));  // no version
    EXPECT_TRUE(raw.Send(""));                                       // an envelope with no body
    EXPECT_TRUE(raw.Send(Serialized(RegisterEnvelope(1, "someone-else"))));  // id mismatch
    EXPECT_TRUE(raw.Send(Serialized(server_only)));
    EXPECT_TRUE(raw.Send(Serialized(unregistered_result)));
    EXPECT_TRUE(raw.Send(Serialized(unregistered_beat)));
    raw.CollectErrors(milliseconds(300));
  }
  // A frame beyond ZMQ_MAXMSGSIZE: libzmq cuts the connection; the DEALER reconnects and
  // farmd still answers it.
  EXPECT_TRUE(raw.Send(std::string(20u << 20, '\0')));
  const bool answered_after_cut = WaitUntil(
      [&] {
        const int before = raw.errors(v1::ERROR_CODE_PROTOCOL_MISMATCH);
        raw.Send(Serialized(RegisterEnvelope(2, kRawId)));
        raw.CollectErrors(milliseconds(200));
        return raw.errors(v1::ERROR_CODE_PROTOCOL_MISMATCH) > before;
      },
      seconds(30), milliseconds(0));
  EXPECT_TRUE(answered_after_cut) << f.LogTails();

  EXPECT_GE(raw.errors(v1::ERROR_CODE_PROTOCOL_MISMATCH), 2 * kRounds);
  EXPECT_GE(raw.errors(v1::ERROR_CODE_MALFORMED), 3 * kRounds);
  EXPECT_GE(raw.errors(v1::ERROR_CODE_NOT_REGISTERED), 2 * kRounds);

  auto counts = f.WaitForSweep(*sweep, seconds(90));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->succeeded, kJobs);
  EXPECT_TRUE(f.FarmdRunning());
  EXPECT_EQ(f.farmd_pid(), farmd) << "farmd restarted";

  auto metrics = f.Metrics();
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_GE(MetricValue(*metrics, "farm_link_messages_total{kind=\"dropped_malformed\"}"),
            4 * kRounds)
      << *metrics;
  EXPECT_GE(MetricValue(*metrics, "farm_agent_bad_messages_total"), 7 * kRounds) << *metrics;
  const std::string log = farm::TailOfFile(f.farmd_log(), 2000);
  for (const char* logged : {"PROTOCOL_MISMATCH", "ERROR_CODE_MALFORMED", "NOT_REGISTERED",
                             "malformed or oversized"}) {
    EXPECT_NE(log.find(logged), std::string::npos) << "farmd did not log " << logged;
  }
  // The raw DEALER never became an agent.
  auto agents = f.ApiGet("/api/v1/agents");
  ASSERT_TRUE(agents.ok()) << agents.status().ToString();
  EXPECT_EQ(agents->dump().find(kRawId), std::string::npos) << agents->dump();
  f.StopAll();
  ExpectEveryJobDoneOnce(f.database(), *sweep, kJobs);
  ExpectOneArtifactPerJob(f.database(), f.artifact_root(), kJobs);
}

}  // namespace
}  // namespace farm_faults
