// A raw cppzmq DEALER standing in for farm-agent in the ZeroMQ transport tests.
#pragma once

#include <optional>
#include <string>
#include <zmq.hpp>

#include "agent_link_test_util.h"

namespace farm::transport::testing {

struct DealerOptions {
  std::string server_public_key;  // set all three for CURVE
  std::string public_key;
  std::string secret_key;
  std::string plain_user;           // set for a PLAIN client
  int receive_high_water_mark = 2;  // small, so a slow agent backs up quickly
};

class ZmqTestAgent final : public TestAgent {
 public:
  ZmqTestAgent(zmq::context_t& context, const std::string& endpoint, const std::string& id,
               const DealerOptions& options = {})
      : socket_(context, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::routing_id, id);
    socket_.set(zmq::sockopt::rcvhwm, options.receive_high_water_mark);
    if (!options.server_public_key.empty()) {
      socket_.set(zmq::sockopt::curve_serverkey, options.server_public_key);
      socket_.set(zmq::sockopt::curve_publickey, options.public_key);
      socket_.set(zmq::sockopt::curve_secretkey, options.secret_key);
    }
    if (!options.plain_user.empty()) {
      socket_.set(zmq::sockopt::plain_username, options.plain_user);
      socket_.set(zmq::sockopt::plain_password, "secret");
    }
    socket_.connect(endpoint);
  }

  Status Send(const Envelope& envelope) override { return SendRaw(envelope.SerializeAsString()); }
  Status SendRaw(const std::string& frame) override {
    try {
      // Bounded: a DEALER queues until connected; a test must never block forever.
      socket_.set(zmq::sockopt::sndtimeo, static_cast<int>(kWait.count()));
      if (!socket_.send(zmq::buffer(frame), zmq::send_flags::none)) {
        return Unavailable("send timed out");
      }
      return Status::Ok();
    } catch (const zmq::error_t& e) {
      return Unavailable(e.what());
    }
  }
  std::optional<Envelope> Receive(milliseconds timeout) override {
    auto frame = ReceiveFrame(timeout);
    Envelope envelope;
    if (!frame || !envelope.ParseFromString(*frame)) return std::nullopt;
    return envelope;
  }
  std::optional<std::string> ReceiveFrame(milliseconds timeout) {
    if (socket_.handle() == nullptr) return std::nullopt;
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
    zmq::message_t message;
    if (!socket_.recv(message, zmq::recv_flags::dontwait)) return std::nullopt;
    return message.to_string();
  }
  void Close() override { socket_.close(); }
  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::socket_t socket_;
};

}  // namespace farm::transport::testing
