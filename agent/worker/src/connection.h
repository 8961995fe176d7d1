// The agent's one ZeroMQ DEALER socket (the only ZeroMQ user in farm_agent_core besides
// key helpers). Converts every cppzmq exception into a Status; never throws.
// Not thread-safe: owned and used by the agent's socket thread only.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "farm.pb.h"
#include "farm/agent/agent.h"
#include "farm/schemas/status.h"

namespace farm::agent {

// One ZeroMQ context per agent; outlives every Connection opened with it.
class ConnectionContext {
 public:
  ConnectionContext();
  ~ConnectionContext();

 private:
  friend class Connection;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Connection {
 public:
  // Opens a new DEALER socket (routing id = agent id, linger 0, CURVE client when a server
  // key is set) and starts connecting. `context` is borrowed.
  static StatusOr<std::unique_ptr<Connection>> Open(ConnectionContext& context,
                                                    const AgentOptions& options,
                                                    const std::optional<CurveKeyPair>& keys);
  ~Connection();

  // Queues one Envelope without blocking. Unavailable when the send queue is full.
  Status Send(const studiofarm::v1::Envelope& envelope);

  struct PollResult {
    bool readable = false;  // a message is waiting on the socket
    bool woken = false;     // `wake_fd` became readable
  };
  // Waits up to `timeout` for a message or for `wake_fd` (-1: none). Returns early, with
  // nothing set, when interrupted by a signal.
  StatusOr<PollResult> Poll(int wake_fd, std::chrono::milliseconds timeout);

  // Receives one message without blocking: nullopt when none is waiting. InvalidArgument
  // (the message consumed) for anything that is not exactly one Envelope frame.
  StatusOr<std::optional<studiofarm::v1::Envelope>> TryReceive();

 private:
  struct Socket;
  explicit Connection(std::unique_ptr<Socket> socket);
  std::unique_ptr<Socket> socket_;
};

// Waits up to `timeout` for `wake_fd` alone (used while no socket is open).
void WaitOnFd(int wake_fd, std::chrono::milliseconds timeout);

}  // namespace farm::agent
