// farmd's side of the agent connection, behind one interface so that farmd's event loop
// is tested against an in-process fake and the ZeroMQ implementation passes the same
// suite (tests/transport/agent_link_suite.h).
//
// Wire: each agent is a DEALER whose routing id is its agent id; every message is one
// frame holding one serialized studiofarm.v1.Envelope (schemas/farm.proto). Frames larger
// than LinkLimits::max_frame_bytes, or that do not parse, are dropped and counted, never
// delivered. Threading: an AgentLink is used from one thread (farmd's event loop).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "farm.pb.h"
#include "farm/schemas/status.h"

namespace farm::transport {

struct LinkLimits {
  std::size_t max_frame_bytes = 8u << 20;  // artifact chunks are at most 1 MiB
  int send_high_water_mark = 10000;        // messages queued per peer before Send fails
  int receive_high_water_mark = 10000;
};

struct Inbound {
  std::string peer;  // the agent's routing id
  studiofarm::v1::Envelope envelope;
};

struct LinkStats {
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::uint64_t dropped_malformed = 0;  // undecodable or oversized frames
  std::uint64_t send_unroutable = 0;    // Send to a peer that is gone
  std::uint64_t send_full = 0;          // Send to a peer whose queue is full
  std::uint64_t auth_refused = 0;       // connections refused by the key check
};

class AgentLink {
 public:
  virtual ~AgentLink() = default;

  // Waits up to `timeout` for the first message, then returns every message already
  // queued, at most `max_messages`. An empty vector means the timeout passed.
  virtual StatusOr<std::vector<Inbound>> Receive(std::chrono::milliseconds timeout,
                                                 std::size_t max_messages) = 0;

  // Queues one message for `peer` without blocking. Unavailable when the peer is not
  // connected (the caller requeues its work) or its queue is full (the caller slows
  // down); nothing is dropped silently.
  virtual Status Send(const std::string& peer, const studiofarm::v1::Envelope& envelope) = 0;

  // The endpoint agents connect to, with an ephemeral port resolved ("tcp://127.0.0.1:40123").
  virtual std::string endpoint() const = 0;

  virtual LinkStats stats() const = 0;

  // Replaces the Z85 public keys admitted from now on (farmd re-reads its allow-list on
  // SIGHUP). An agent already connected whose key is no longer listed is cut off too: its
  // messages are dropped and counted in auth_refused. FailedPrecondition for a link that
  // has no allow-list (no CURVE); InvalidArgument for a malformed or empty list.
  virtual Status ReplaceAllowedClientKeys(const std::vector<std::string>& keys);
};

}  // namespace farm::transport
