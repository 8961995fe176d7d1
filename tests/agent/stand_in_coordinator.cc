#include "stand_in_coordinator.h"

#include <algorithm>
#include <zmq.hpp>

namespace farm::testing {
namespace v1 = studiofarm::v1;
using Clock = std::chrono::steady_clock;

struct StandInCoordinator::Zmq {
  zmq::context_t context{1};
  zmq::socket_t router{context, zmq::socket_type::router};
};

StandInCoordinator::StandInCoordinator(const std::string& curve_secret_key)
    : zmq_(std::make_unique<Zmq>()) {
  zmq_->router.set(zmq::sockopt::linger, 0);
  if (!curve_secret_key.empty()) {
    zmq_->router.set(zmq::sockopt::curve_server, 1);
    zmq_->router.set(zmq::sockopt::curve_secretkey, curve_secret_key);
  }
  zmq_->router.set(zmq::sockopt::router_handover, 1);
  zmq_->router.bind("tcp://127.0.0.1:0");
  endpoint_ = zmq_->router.get(zmq::sockopt::last_endpoint);
}

StandInCoordinator::~StandInCoordinator() = default;

std::optional<Received> StandInCoordinator::ReceiveOne(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{zmq_->router.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
  std::vector<zmq::message_t> frames;
  do {
    zmq::message_t frame;
    (void)zmq_->router.recv(frame, zmq::recv_flags::none);
    frames.push_back(std::move(frame));
  } while (zmq_->router.get(zmq::sockopt::rcvmore) != 0);
  if (frames.size() != 2) return std::nullopt;
  Received received;
  received.agent_id = frames[0].to_string();
  received.at = Clock::now();
  if (!received.envelope.ParseFromArray(frames[1].data(), static_cast<int>(frames[1].size()))) {
    return std::nullopt;
  }
  bool known = false;
  for (const std::string& id : agents_) known = known || id == received.agent_id;
  if (!known) agents_.push_back(received.agent_id);
  log_.push_back(received);
  return received;
}

void StandInCoordinator::MaybeHeartbeat() {
  if (!answer_heartbeats_ || Clock::now() < next_heartbeat_) return;
  next_heartbeat_ = Clock::now() + heartbeat_interval;
  v1::Envelope beat;
  beat.mutable_heartbeat()->set_sent_unix_ms(1);
  for (const std::string& id : agents_) Send(id, beat);
}

std::optional<Received> StandInCoordinator::WaitUntil(
    const std::function<bool(const Received&)>& match, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    MaybeHeartbeat();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    std::optional<Received> received =
        ReceiveOne(std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(10)));
    if (received.has_value() && match(*received)) return received;
  }
  return std::nullopt;
}

std::optional<Received> StandInCoordinator::WaitFor(v1::Envelope::BodyCase body,
                                                    std::chrono::milliseconds timeout) {
  return WaitUntil([body](const Received& r) { return r.envelope.body_case() == body; }, timeout);
}

void StandInCoordinator::Pump(std::chrono::milliseconds duration) {
  (void)WaitUntil([](const Received&) { return false; }, duration);
}

std::optional<Received> StandInCoordinator::AcceptRegistration(std::chrono::milliseconds timeout) {
  std::optional<Received> reg = WaitFor(v1::Envelope::kRegister, timeout);
  if (reg.has_value()) SendWelcome(reg->agent_id);
  return reg;
}

bool StandInCoordinator::Send(const std::string& agent_id, const v1::Envelope& envelope) {
  return SendRawFrames(agent_id, {envelope.SerializeAsString()});
}

bool StandInCoordinator::SendRawFrames(const std::string& agent_id,
                                       const std::vector<std::string>& frames) {
  try {
    zmq_->router.send(zmq::buffer(agent_id), zmq::send_flags::sndmore);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      zmq_->router.send(zmq::buffer(frames[i]),
                        i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    return true;
  } catch (const zmq::error_t&) {
    return false;
  }
}

bool StandInCoordinator::SendWelcome(const std::string& agent_id) {
  v1::Envelope envelope;
  envelope.mutable_welcome()->set_session_id("stand-in");
  envelope.mutable_welcome()->set_heartbeat_interval_ms(
      static_cast<uint32_t>(heartbeat_interval.count()));
  envelope.mutable_welcome()->set_heartbeat_liveness(heartbeat_liveness);
  return Send(agent_id, envelope);
}

bool StandInCoordinator::SendOffer(const std::string& agent_id, uint64_t job_id, uint32_t attempt,
                                   v1::JobKind kind, const std::string& params_json) {
  v1::Envelope envelope;
  v1::JobOffer* offer = envelope.mutable_job_offer();
  offer->mutable_lease()->set_job_id(job_id);
  offer->mutable_lease()->set_attempt(attempt);
  offer->set_kind(kind);
  offer->set_params_json(params_json);
  return Send(agent_id, envelope);
}

bool StandInCoordinator::SendAck(const std::string& agent_id, uint64_t job_id, uint32_t attempt) {
  v1::Envelope envelope;
  envelope.mutable_result_ack()->mutable_lease()->set_job_id(job_id);
  envelope.mutable_result_ack()->mutable_lease()->set_attempt(attempt);
  envelope.mutable_result_ack()->set_accepted(true);
  return Send(agent_id, envelope);
}

bool StandInCoordinator::SendCancel(const std::string& agent_id, uint64_t job_id,
                                    uint32_t attempt) {
  v1::Envelope envelope;
  envelope.mutable_cancel()->mutable_lease()->set_job_id(job_id);
  envelope.mutable_cancel()->mutable_lease()->set_attempt(attempt);
  envelope.mutable_cancel()->set_reason("test cancel");
  return Send(agent_id, envelope);
}

std::optional<std::string> AssembleUpload(const std::vector<Received>& log, uint64_t job_id,
                                          uint32_t attempt, const std::string& sha256,
                                          std::size_t start_index) {
  std::string bytes;
  bool ended = false;
  for (std::size_t i = start_index; i < log.size(); ++i) {
    if (!log[i].envelope.has_artifact_chunk()) continue;
    const v1::ArtifactChunk& chunk = log[i].envelope.artifact_chunk();
    if (chunk.lease().job_id() != job_id || chunk.lease().attempt() != attempt ||
        chunk.sha256() != sha256) {
      continue;
    }
    if (ended || chunk.offset() != bytes.size()) return std::nullopt;
    bytes += chunk.data();
    ended = chunk.last();
  }
  if (!ended) return std::nullopt;
  return bytes;
}

}  // namespace farm::testing
