// An in-process AgentLink and the agent end that talks to it: farmd's event loop and the
// scheduler are tested against this without sockets, and it passes the same suite as the
// ZeroMQ link (tests/transport/agent_link_suite.h).
//
// Semantics mirror ZmqAgentLink:
//   - Send to an id with no connected end: Unavailable, counted in send_unroutable.
//   - Send when that end already holds send_high_water_mark unread messages: Unavailable
//     "queue full", counted in send_full. Nothing is dropped silently.
//   - Send of a message over max_frame_bytes: InvalidArgument (the agent would drop it).
//   - Frames over max_frame_bytes, or that do not parse as an Envelope, are counted in
//     dropped_malformed and never delivered; later good frames still are.
//   - Connect() with an id that is already connected hands the id over to the new end
//     (ZMQ_ROUTER_HANDOVER): the old end is disconnected and its unread messages dropped.
//
// Threading: the link is used from one thread (farmd's loop); FakeAgentEnds may each be
// used from other threads. All shared state sits behind one mutex; Receive waits on a
// condition variable, so tests are deterministic without sleeps.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "farm/transport/agent_link.h"

namespace farm::transport {

namespace internal {
struct InProcessState;  // shared by the link and its ends; defined in the .cc
}

class FakeAgentEnd;

class InProcessAgentLink final : public AgentLink {
 public:
  // `endpoint` is only reported by endpoint(); nothing listens on it.
  explicit InProcessAgentLink(LinkLimits limits = {},
                              std::string endpoint = "inproc://farm-agents");
  ~InProcessAgentLink() override;  // disconnects every end still open

  InProcessAgentLink(const InProcessAgentLink&) = delete;
  InProcessAgentLink& operator=(const InProcessAgentLink&) = delete;

  // Connects an agent with routing id `agent_id` (taking the id over if it is in use).
  // The end may outlive the link; once the link is gone its Send returns Unavailable.
  std::unique_ptr<FakeAgentEnd> Connect(const std::string& agent_id);

  StatusOr<std::vector<Inbound>> Receive(std::chrono::milliseconds timeout,
                                         std::size_t max_messages) override;
  Status Send(const std::string& peer, const studiofarm::v1::Envelope& envelope) override;
  std::string endpoint() const override;
  LinkStats stats() const override;

 private:
  std::shared_ptr<internal::InProcessState> state_;
  std::string endpoint_;
};

// The agent's side of one connection. Thread-safe.
class FakeAgentEnd {
 public:
  ~FakeAgentEnd();  // disconnects

  FakeAgentEnd(const FakeAgentEnd&) = delete;
  FakeAgentEnd& operator=(const FakeAgentEnd&) = delete;

  const std::string& id() const { return id_; }

  // Sends one envelope to farmd as this agent. Unavailable when this end was disconnected
  // (or handed over, or the link is gone) or farmd's inbound queue holds
  // receive_high_water_mark messages.
  Status Send(const studiofarm::v1::Envelope& envelope);
  // Sends raw frame bytes, so malformed and oversized frames can be injected.
  Status SendRaw(std::string frame);

  // Waits up to `timeout` for the next message farmd sent to this agent; nullopt on
  // timeout or once disconnected.
  std::optional<studiofarm::v1::Envelope> Receive(std::chrono::milliseconds timeout);

  // After this, farmd's Send to this id is Unavailable (until another end connects).
  void Disconnect();
  bool connected() const;

 private:
  friend class InProcessAgentLink;
  FakeAgentEnd(std::shared_ptr<internal::InProcessState> state, std::string id,
               std::uint64_t generation);

  std::shared_ptr<internal::InProcessState> state_;
  std::string id_;
  std::uint64_t generation_;  // which connection of `id_` this end is (for handover)
};

}  // namespace farm::transport
