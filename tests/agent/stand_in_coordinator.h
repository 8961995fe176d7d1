// A stand-in for farmd in agent tests (like OpenCue's dummy-cuebot): a raw ROUTER socket
// on loopback that the test drives by hand. It records every envelope it receives, in
// order, and can answer heartbeats, go silent, or send arbitrary bytes.
//
// Threading: single-threaded; the test thread calls everything. Every wait is bounded.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "farm.pb.h"

namespace farm::testing {

struct Received {
  std::string agent_id;
  studiofarm::v1::Envelope envelope;
  std::chrono::steady_clock::time_point at;
};

class StandInCoordinator {
 public:
  // Binds tcp://127.0.0.1 on an ephemeral port (ROUTER_HANDOVER on, so a reconnecting
  // agent with the same id takes over its routing id). With `curve_secret_key` (Z85) it is
  // a CURVE server; having no ZAP handler, it admits any client key.
  explicit StandInCoordinator(const std::string& curve_secret_key = "");
  ~StandInCoordinator();

  const std::string& endpoint() const { return endpoint_; }

  // While true (the default), Wait* calls send a Heartbeat to every agent heard from,
  // every heartbeat_interval. False simulates a hung coordinator.
  void set_answer_heartbeats(bool on) { answer_heartbeats_ = on; }
  std::chrono::milliseconds heartbeat_interval{100};
  uint32_t heartbeat_liveness = 3;

  // Waits for the next envelope whose body is `body` (others are recorded and skipped);
  // nullopt after `timeout`.
  std::optional<Received> WaitFor(studiofarm::v1::Envelope::BodyCase body,
                                  std::chrono::milliseconds timeout);
  // Waits for the next envelope matching `match`.
  std::optional<Received> WaitUntil(const std::function<bool(const Received&)>& match,
                                    std::chrono::milliseconds timeout);
  // Receives (and answers heartbeats) for `duration`, recording everything.
  void Pump(std::chrono::milliseconds duration);

  // Waits for a Register and answers Welcome; returns the Register.
  std::optional<Received> AcceptRegistration(std::chrono::milliseconds timeout);

  bool Send(const std::string& agent_id, const studiofarm::v1::Envelope& envelope);
  bool SendWelcome(const std::string& agent_id);
  bool SendOffer(const std::string& agent_id, uint64_t job_id, uint32_t attempt,
                 studiofarm::v1::JobKind kind, const std::string& params_json);
  bool SendAck(const std::string& agent_id, uint64_t job_id, uint32_t attempt);
  bool SendCancel(const std::string& agent_id, uint64_t job_id, uint32_t attempt);
  // Sends frames as they are, after the routing id.
  bool SendRawFrames(const std::string& agent_id, const std::vector<std::string>& frames);

  // Everything received so far, oldest first.
  const std::vector<Received>& log() const { return log_; }

 private:
  std::optional<Received> ReceiveOne(std::chrono::milliseconds timeout);
  void MaybeHeartbeat();

  struct Zmq;
  std::unique_ptr<Zmq> zmq_;
  std::string endpoint_;
  bool answer_heartbeats_ = true;
  std::vector<std::string> agents_;
  std::chrono::steady_clock::time_point next_heartbeat_{};
  std::vector<Received> log_;
};

// The bytes of an artifact uploaded for `lease` with `sha256`, in the order received,
// checking that offsets are contiguous and exactly one chunk (the final one) has last set.
// Empty optional on a gap, overlap or misplaced `last`.
std::optional<std::string> AssembleUpload(const std::vector<Received>& log, uint64_t job_id,
                                          uint32_t attempt, const std::string& sha256,
                                          std::size_t start_index = 0);

}  // namespace farm::testing
