#include "connection.h"

#include <poll.h>

#include <cerrno>
#include <zmq.hpp>

namespace farm::agent {
namespace {
// Offers, acks and cancels are small; a bigger frame is refused by libzmq unread.
constexpr int64_t kMaxFrameBytes = 16 << 20;
}  // namespace

struct ConnectionContext::Impl {
  zmq::context_t context{1};
};
ConnectionContext::ConnectionContext() : impl_(std::make_unique<Impl>()) {}
ConnectionContext::~ConnectionContext() = default;

struct Connection::Socket {
  explicit Socket(zmq::context_t& context) : socket(context, zmq::socket_type::dealer) {}
  zmq::socket_t socket;
};

Connection::Connection(std::unique_ptr<Socket> socket) : socket_(std::move(socket)) {}
Connection::~Connection() = default;

StatusOr<std::unique_ptr<Connection>> Connection::Open(ConnectionContext& context,
                                                       const AgentOptions& options,
                                                       const std::optional<CurveKeyPair>& keys) {
  try {
    auto socket = std::make_unique<Socket>(context.impl_->context);
    zmq::socket_t& s = socket->socket;
    s.set(zmq::sockopt::routing_id, options.agent_id);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
    if (options.server_public_key.has_value()) {
      if (!keys.has_value()) return Internal("CURVE server key set without a client key pair");
      s.set(zmq::sockopt::curve_serverkey, *options.server_public_key);
      s.set(zmq::sockopt::curve_publickey, keys->public_key);
      s.set(zmq::sockopt::curve_secretkey, keys->secret_key);
    }
    s.connect(options.endpoint);
    return std::unique_ptr<Connection>(new Connection(std::move(socket)));
  } catch (const zmq::error_t& e) {
    return Unavailable("cannot open a connection to " + options.endpoint + ": " + e.what());
  }
}

Status Connection::Send(const studiofarm::v1::Envelope& envelope) {
  std::string bytes;
  if (!envelope.SerializeToString(&bytes)) return Internal("cannot serialize an Envelope");
  try {
    auto sent = socket_->socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    if (!sent.has_value()) return Unavailable("send queue to farmd is full");
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return Unavailable(std::string("send to farmd failed: ") + e.what());
  }
}

StatusOr<Connection::PollResult> Connection::Poll(int wake_fd, std::chrono::milliseconds timeout) {
  zmq_pollitem_t items[2] = {};
  items[0].socket = socket_->socket.handle();
  items[0].events = ZMQ_POLLIN;
  int count = 1;
  if (wake_fd >= 0) {
    items[1].fd = wake_fd;
    items[1].events = ZMQ_POLLIN;
    count = 2;
  }
  // The C call, not zmq::poll: cppzmq throws on EINTR, which a signal makes routine here.
  const int rc = zmq_poll(items, count, static_cast<long>(timeout.count()));
  PollResult result;
  if (rc < 0) {
    if (zmq_errno() == EINTR) return result;
    return Unavailable(std::string("zmq_poll failed: ") + zmq_strerror(zmq_errno()));
  }
  result.readable = (items[0].revents & ZMQ_POLLIN) != 0;
  result.woken = count == 2 && (items[1].revents & ZMQ_POLLIN) != 0;
  return result;
}

StatusOr<std::optional<studiofarm::v1::Envelope>> Connection::TryReceive() {
  try {
    zmq::message_t first;
    if (!socket_->socket.recv(first, zmq::recv_flags::dontwait).has_value()) {
      return std::optional<studiofarm::v1::Envelope>();
    }
    bool extra_frames = false;
    while (socket_->socket.get(zmq::sockopt::rcvmore) != 0) {
      zmq::message_t more;
      (void)socket_->socket.recv(more, zmq::recv_flags::none);
      extra_frames = true;
    }
    if (extra_frames) return InvalidArgument("a message from farmd had more than one frame");
    studiofarm::v1::Envelope envelope;
    if (!envelope.ParseFromArray(first.data(), static_cast<int>(first.size()))) {
      return InvalidArgument("a frame from farmd (" + std::to_string(first.size()) +
                             " bytes) is not an Envelope");
    }
    return std::optional<studiofarm::v1::Envelope>(std::move(envelope));
  } catch (const zmq::error_t& e) {
    return Unavailable(std::string("receive from farmd failed: ") + e.what());
  }
}

void WaitOnFd(int wake_fd, std::chrono::milliseconds timeout) {
  pollfd item{wake_fd, POLLIN, 0};
  (void)::poll(&item, wake_fd >= 0 ? 1 : 0, static_cast<int>(timeout.count()));
}

}  // namespace farm::agent
