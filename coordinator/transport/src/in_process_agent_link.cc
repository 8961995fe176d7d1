#include "farm/transport/in_process_agent_link.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

#include "farm/transport/wire_frame.h"

namespace farm::transport {
namespace internal {

struct PeerQueue {
  std::uint64_t generation = 0;
  std::deque<studiofarm::v1::Envelope> outbox;  // farmd -> agent, unread
};

struct InProcessState {
  explicit InProcessState(LinkLimits l) : limits(l) {}

  const LinkLimits limits;
  mutable std::mutex mu;
  std::condition_variable inbound_cv;  // the link waits on this
  std::condition_variable outbox_cv;   // agent ends wait on this
  std::deque<Inbound> inbound;         // agent -> farmd, not yet received
  std::map<std::string, PeerQueue> peers;
  std::uint64_t next_generation = 1;
  bool link_open = true;
  LinkStats stats;

  // True when the end (id, generation) is the connected one. Requires mu.
  bool IsCurrent(const std::string& id, std::uint64_t generation) const {
    auto it = peers.find(id);
    return link_open && it != peers.end() && it->second.generation == generation;
  }
};

}  // namespace internal

using internal::InProcessState;

InProcessAgentLink::InProcessAgentLink(LinkLimits limits, std::string endpoint)
    : state_(std::make_shared<InProcessState>(limits)), endpoint_(std::move(endpoint)) {}

InProcessAgentLink::~InProcessAgentLink() {
  std::lock_guard lock(state_->mu);
  state_->link_open = false;
  state_->peers.clear();
  state_->outbox_cv.notify_all();
}

std::unique_ptr<FakeAgentEnd> InProcessAgentLink::Connect(const std::string& agent_id) {
  std::uint64_t generation;
  {
    std::lock_guard lock(state_->mu);
    generation = state_->next_generation++;
    // Replacing the entry is the handover: the old end's unread messages go with it.
    state_->peers[agent_id] = internal::PeerQueue{generation, {}};
    state_->outbox_cv.notify_all();
  }
  return std::unique_ptr<FakeAgentEnd>(new FakeAgentEnd(state_, agent_id, generation));
}

StatusOr<std::vector<Inbound>> InProcessAgentLink::Receive(std::chrono::milliseconds timeout,
                                                           std::size_t max_messages) {
  std::vector<Inbound> out;
  if (max_messages == 0) return out;
  std::unique_lock lock(state_->mu);
  state_->inbound_cv.wait_for(lock, timeout, [&] { return !state_->inbound.empty(); });
  while (!state_->inbound.empty() && out.size() < max_messages) {
    out.push_back(std::move(state_->inbound.front()));
    state_->inbound.pop_front();
  }
  state_->stats.received += out.size();
  return out;
}

Status InProcessAgentLink::Send(const std::string& peer, const studiofarm::v1::Envelope& envelope) {
  if (envelope.ByteSizeLong() > state_->limits.max_frame_bytes) {
    return InvalidArgument("message of " + std::to_string(envelope.ByteSizeLong()) +
                           " bytes exceeds max_frame_bytes");
  }
  std::lock_guard lock(state_->mu);
  auto it = state_->peers.find(peer);
  if (it == state_->peers.end()) {
    ++state_->stats.send_unroutable;
    return Unavailable("agent '" + peer + "' is not connected");
  }
  if (it->second.outbox.size() >= static_cast<std::size_t>(state_->limits.send_high_water_mark)) {
    ++state_->stats.send_full;
    return Unavailable("agent '" + peer + "': queue full");
  }
  it->second.outbox.push_back(envelope);
  ++state_->stats.sent;
  state_->outbox_cv.notify_all();
  return Status::Ok();
}

std::string InProcessAgentLink::endpoint() const { return endpoint_; }

LinkStats InProcessAgentLink::stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

FakeAgentEnd::FakeAgentEnd(std::shared_ptr<InProcessState> state, std::string id,
                           std::uint64_t generation)
    : state_(std::move(state)), id_(std::move(id)), generation_(generation) {}

FakeAgentEnd::~FakeAgentEnd() { Disconnect(); }

Status FakeAgentEnd::Send(const studiofarm::v1::Envelope& envelope) {
  return SendRaw(envelope.SerializeAsString());
}

Status FakeAgentEnd::SendRaw(std::string frame) {
  std::lock_guard lock(state_->mu);
  if (!state_->IsCurrent(id_, generation_)) {
    return Unavailable("agent '" + id_ + "' is disconnected");
  }
  if (state_->inbound.size() >= static_cast<std::size_t>(state_->limits.receive_high_water_mark)) {
    return Unavailable("farmd's inbound queue is full");
  }
  // Like the network: a bad frame is accepted by the sender and dropped by the receiver.
  Inbound in{id_, {}};
  if (!DecodeAgentFrame(frame, state_->limits, &in.envelope).ok()) {
    ++state_->stats.dropped_malformed;
    return Status::Ok();
  }
  state_->inbound.push_back(std::move(in));
  state_->inbound_cv.notify_all();
  return Status::Ok();
}

std::optional<studiofarm::v1::Envelope> FakeAgentEnd::Receive(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  auto ready = [&] {
    return !state_->IsCurrent(id_, generation_) || !state_->peers.at(id_).outbox.empty();
  };
  state_->outbox_cv.wait_for(lock, timeout, ready);
  if (!state_->IsCurrent(id_, generation_)) return std::nullopt;
  auto& outbox = state_->peers.at(id_).outbox;
  if (outbox.empty()) return std::nullopt;
  studiofarm::v1::Envelope envelope = std::move(outbox.front());
  outbox.pop_front();
  return envelope;
}

void FakeAgentEnd::Disconnect() {
  std::lock_guard lock(state_->mu);
  if (state_->IsCurrent(id_, generation_)) state_->peers.erase(id_);
  state_->outbox_cv.notify_all();
}

bool FakeAgentEnd::connected() const {
  std::lock_guard lock(state_->mu);
  return state_->IsCurrent(id_, generation_);
}

}  // namespace farm::transport
