#include "farm/transport/zmq_agent_link.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <utility>
#include <zmq.hpp>

#include "farm/transport/curve_keys.h"
#include "farm/transport/wire_frame.h"
#include "zap_handler.h"

namespace farm::transport {
namespace {

// Per context, so several links in one process do not collide.
constexpr char kMonitorEndpoint[] = "inproc://farm-link-monitor";

// protobuf parses at most 2 GiB and ZMQ_MAXMSGSIZE is twice this.
constexpr std::size_t kLargestFrameLimit = std::size_t{512} << 20;

// Reads beyond max_messages per Receive, so a flood of bad frames cannot pin the loop.
constexpr std::size_t kExtraReadsPerReceive = 1024;

class ZmqAgentLink final : public AgentLink {
 public:
  explicit ZmqAgentLink(const ZmqLinkOptions& options) : options_(options) {}

  ~ZmqAgentLink() override {
    try {
      if (zap_) zmq_socket_monitor(router_.handle(), nullptr, 0);
      router_.close();
    } catch (const zmq::error_t&) {
      // Closing cannot be retried; the context below still shuts down.
    }
    zap_.reset();  // joins the ZAP thread, which closes its sockets
    context_.close();
  }

  Status Open();

  StatusOr<std::vector<Inbound>> Receive(std::chrono::milliseconds timeout,
                                         std::size_t max_messages) override;
  Status Send(const std::string& peer, const studiofarm::v1::Envelope& envelope) override;
  std::string endpoint() const override { return endpoint_; }
  Status ReplaceAllowedClientKeys(const std::vector<std::string>& keys) override;
  LinkStats stats() const override {
    LinkStats s = stats_;
    s.auth_refused = auth_refused_.load();
    return s;
  }

 private:
  // Reads one whole message (all its parts). False when none is queued.
  bool ReadOne(std::vector<Inbound>* out);
  // With CURVE: false (and logged once per key) when the key the message's connection
  // authenticated with is no longer on the allow-list.
  bool SenderStillAllowed(zmq::message_t& payload);

  const ZmqLinkOptions options_;
  zmq::context_t context_{1};
  zmq::socket_t router_{context_, zmq::socket_type::router};
  std::unique_ptr<internal::ZapHandler> zap_;
  std::string endpoint_;
  LinkStats stats_;  // auth_refused lives in auth_refused_ (written by the ZAP thread)
  std::set<std::string> logged_revoked_;  // keys whose dropped messages were logged
  std::atomic<std::uint64_t> auth_refused_{0};
};

Status ZmqAgentLink::Open() {
  const LinkLimits& limits = options_.limits;
  if (limits.max_frame_bytes == 0 || limits.send_high_water_mark <= 0 ||
      limits.receive_high_water_mark <= 0) {
    return InvalidArgument("link limits must be positive");
  }
  if (limits.max_frame_bytes > kLargestFrameLimit) {
    return InvalidArgument("max_frame_bytes must be at most 512 MiB");
  }
  if (options_.curve) {
    if (!IsValidCurveKey(options_.server_secret_key)) {
      return InvalidArgument("CURVE needs the server secret key (40 Z85 characters)");
    }
    if (options_.allowed_client_keys.empty()) {
      return InvalidArgument("CURVE needs at least one allowed agent key");
    }
    for (const std::string& key : options_.allowed_client_keys) {
      if (!IsValidCurveKey(key)) return InvalidArgument("invalid allowed agent key '" + key + "'");
    }
    // The ZAP socket must exist before the ROUTER accepts anyone, or libzmq would let the
    // first clients in unchecked.
    FARM_ASSIGN_OR_RETURN(
        zap_, internal::ZapHandler::Bind(context_,
                                         std::set<std::string>(options_.allowed_client_keys.begin(),
                                                               options_.allowed_client_keys.end()),
                                         options_.log, &auth_refused_));
  }
  try {
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::router_mandatory, 1);
    router_.set(zmq::sockopt::router_handover, 1);
    router_.set(zmq::sockopt::sndhwm, limits.send_high_water_mark);
    router_.set(zmq::sockopt::rcvhwm, limits.receive_high_water_mark);
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(2 * limits.max_frame_bytes));
    if (options_.curve) {
      router_.set(zmq::sockopt::curve_server, 1);
      router_.set(zmq::sockopt::curve_secretkey, options_.server_secret_key);
      router_.set(zmq::sockopt::zap_domain, "studiofarm");
      if (zmq_socket_monitor(
              router_.handle(), kMonitorEndpoint,
              ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
        return Internal(std::string("cannot monitor the agent socket: ") +
                        zmq_strerror(zmq_errno()));
      }
      FARM_RETURN_IF_ERROR(zap_->Start(kMonitorEndpoint));
    }
    router_.bind(options_.endpoint);
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Unavailable("cannot listen on " + options_.endpoint + ": " + e.what());
  }
  return Status::Ok();
}

bool ZmqAgentLink::ReadOne(std::vector<Inbound>* out) {
  zmq::message_t peer;
  if (!router_.recv(peer, zmq::recv_flags::dontwait)) return false;
  // Expect [routing id, envelope]; drain and drop anything longer.
  std::size_t parts = 1;
  zmq::message_t payload;
  while (router_.get(zmq::sockopt::rcvmore)) {
    zmq::message_t part;
    (void)router_.recv(part, zmq::recv_flags::none);  // later parts are already queued
    if (++parts == 2) payload = std::move(part);
  }
  if (parts == 2 && zap_ && !SenderStillAllowed(payload)) {
    ++auth_refused_;
    return true;
  }
  Inbound in;
  if (parts != 2 ||
      !DecodeAgentFrame(std::string_view(static_cast<const char*>(payload.data()), payload.size()),
                        options_.limits, &in.envelope)
           .ok()) {
    ++stats_.dropped_malformed;
    return true;
  }
  in.peer = peer.to_string();
  out->push_back(std::move(in));
  ++stats_.received;
  return true;
}

bool ZmqAgentLink::SenderStillAllowed(zmq::message_t& payload) {
  std::string key;
  try {
    key = payload.gets("User-Id");  // what the ZAP handler answered for this connection
  } catch (const zmq::error_t&) {
    return false;  // a CURVE connection always has one; without it, refuse
  }
  if (zap_->Allows(key)) return true;
  if (logged_revoked_.insert(key).second && options_.log) {
    options_.log(LinkLogLevel::kWarning,
                 "dropping messages of agent key " + key + ": no longer on the allow-list");
  }
  return false;
}

Status ZmqAgentLink::ReplaceAllowedClientKeys(const std::vector<std::string>& keys) {
  if (!zap_) return FailedPrecondition("this agent link has no allow-list (CURVE is off)");
  if (keys.empty()) {
    return InvalidArgument("an empty allow-list would refuse every agent; list at least one key");
  }
  for (const std::string& key : keys) {
    if (!IsValidCurveKey(key)) return InvalidArgument("invalid allowed agent key '" + key + "'");
  }
  zap_->ReplaceAllowedKeys(std::set<std::string>(keys.begin(), keys.end()));
  logged_revoked_.clear();  // a key removed again is logged again
  return Status::Ok();
}

StatusOr<std::vector<Inbound>> ZmqAgentLink::Receive(std::chrono::milliseconds timeout,
                                                     std::size_t max_messages) {
  std::vector<Inbound> out;
  if (max_messages == 0) return out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    // Dropped frames do not end the wait: it ends with a good message or the deadline.
    while (out.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::max(left, std::chrono::milliseconds(0))) == 0) break;
      std::size_t reads = 0;
      while (out.size() < max_messages && reads++ < max_messages + kExtraReadsPerReceive &&
             ReadOne(&out)) {
      }
      if (left.count() <= 0) break;
    }
  } catch (const zmq::error_t& e) {
    return Unavailable(std::string("receive from agents failed: ") + e.what());
  }
  return out;
}

Status ZmqAgentLink::Send(const std::string& peer, const studiofarm::v1::Envelope& envelope) {
  std::string frame = envelope.SerializeAsString();
  if (frame.size() > options_.limits.max_frame_bytes) {
    return InvalidArgument("message of " + std::to_string(frame.size()) +
                           " bytes exceeds max_frame_bytes");
  }
  try {
    // With ROUTER_MANDATORY the routing-id part is where an unknown or full peer fails;
    // once it is accepted the payload part cannot fail for those reasons.
    if (!router_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      ++stats_.send_full;
      return Unavailable("agent '" + peer + "': queue full");
    }
    if (!router_.send(zmq::message_t(frame), zmq::send_flags::dontwait)) {
      ++stats_.send_full;
      return Unavailable("agent '" + peer + "': queue full");
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) {
      ++stats_.send_unroutable;
      return Unavailable("agent '" + peer + "' is not connected");
    }
    return Unavailable("send to agent '" + peer + "' failed: " + e.what());
  }
  ++stats_.sent;
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<AgentLink>> ListenForAgents(const ZmqLinkOptions& options) {
  auto link = std::make_unique<ZmqAgentLink>(options);
  FARM_RETURN_IF_ERROR(link->Open());
  return std::unique_ptr<AgentLink>(std::move(link));
}

}  // namespace farm::transport
