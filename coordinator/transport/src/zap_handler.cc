#include "zap_handler.h"

#include <chrono>
#include <cstring>
#include <iterator>
#include <utility>
#include <vector>
#include <zmq_addon.hpp>

#include "farm/transport/curve_keys.h"

namespace farm::transport::internal {
namespace {

// How often the thread looks at stop_ while idle; bounds the link's shutdown time.
constexpr std::chrono::milliseconds kPollInterval{50};

std::string Printable(const std::string& s) {
  std::string out;
  for (char c : s) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, std::set<std::string> allowed_keys, LogFn log,
                       std::atomic<std::uint64_t>* refused)
    : context_(context),
      zap_(context, zmq::socket_type::rep),
      allowed_keys_(std::move(allowed_keys)),
      log_(std::move(log)),
      refused_(refused) {}

StatusOr<std::unique_ptr<ZapHandler>> ZapHandler::Bind(zmq::context_t& context,
                                                       std::set<std::string> allowed_keys,
                                                       LogFn log,
                                                       std::atomic<std::uint64_t>* refused) {
  try {
    std::unique_ptr<ZapHandler> handler(
        new ZapHandler(context, std::move(allowed_keys), std::move(log), refused));
    handler->zap_.set(zmq::sockopt::linger, 0);
    handler->zap_.bind(kZapEndpoint);
    return handler;
  } catch (const zmq::error_t& e) {
    return Unavailable(std::string("cannot bind the ZAP handler: ") + e.what());
  }
}

void ZapHandler::ReplaceAllowedKeys(std::set<std::string> keys) {
  std::lock_guard<std::mutex> lock(keys_mutex_);
  allowed_keys_ = std::move(keys);
}

bool ZapHandler::Allows(const std::string& key) const {
  std::lock_guard<std::mutex> lock(keys_mutex_);
  return allowed_keys_.count(key) > 0;
}

Status ZapHandler::Start(const std::string& monitor_endpoint) {
  try {
    monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
    monitor_.set(zmq::sockopt::linger, 0);
    monitor_.connect(monitor_endpoint);
  } catch (const zmq::error_t& e) {
    return Unavailable(std::string("cannot watch the link's monitor: ") + e.what());
  }
  // Thread creation is a full memory barrier, so handing the sockets over is safe.
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::Run() {
  while (!stop_) {
    zmq::pollitem_t items[] = {{zap_.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, kPollInterval);
      if (items[0].revents & ZMQ_POLLIN) HandleZapRequest();
      if (items[1].revents & ZMQ_POLLIN) HandleMonitorEvent();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (log_) log_(LinkLogLevel::kWarning, std::string("ZAP handler error: ") + e.what());
    }
  }
  zap_.close();
  monitor_.close();
}

void ZapHandler::HandleZapRequest() {
  std::vector<zmq::message_t> request;
  (void)zmq::recv_multipart(zap_, std::back_inserter(request));
  // RFC 27: version, request id, domain, address, routing id, mechanism, credentials...
  const bool well_formed = request.size() >= 6 && request[0].to_string() == "1.0";
  const std::string request_id = request.size() >= 2 ? request[1].to_string() : "";
  const std::string address = request.size() >= 4 ? request[3].to_string() : "?";
  const std::string mechanism = request.size() >= 6 ? request[5].to_string() : "";

  std::string status = "400";
  std::string text = "key not allowed";
  std::string user_id;
  if (!well_formed) {
    text = "malformed ZAP request";
    Refuse("malformed ZAP request from " + Printable(address), "malformed");
  } else if (mechanism != "CURVE" || request.size() != 7 || request[6].size() != kCurveKeyBytes) {
    text = "only CURVE is accepted";
    Refuse("refused " + Printable(mechanism) + " client at " + Printable(address),
           "mechanism:" + mechanism);
  } else {
    auto key = Z85Encode(request[6].to_string());
    if (key.ok() && Allows(*key)) {
      status = "200";
      text = "OK";
      user_id = *key;
    } else {
      const std::string shown = key.ok() ? *key : "?";
      Refuse("refused unknown agent key " + shown + " from " + Printable(address), "key:" + shown);
    }
  }
  // REP must always answer, or it cannot take the next request.
  std::vector<zmq::message_t> reply;
  reply.emplace_back(std::string("1.0"));
  reply.emplace_back(request_id);
  reply.emplace_back(status);
  reply.emplace_back(text);
  reply.emplace_back(user_id);
  reply.emplace_back();  // metadata
  (void)zmq::send_multipart(zap_, reply);
}

void ZapHandler::HandleMonitorEvent() {
  std::vector<zmq::message_t> event;
  (void)zmq::recv_multipart(monitor_, std::back_inserter(event));
  if (event.empty() || event[0].size() < 6) return;
  std::uint16_t id;
  std::uint32_t value;
  std::memcpy(&id, event[0].data(), sizeof(id));
  std::memcpy(&value, static_cast<const char*>(event[0].data()) + 2, sizeof(value));
  if (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
    // A client that does not speak CURVE often notices the mismatch first and hangs up,
    // so the server sees only a broken handshake (value is errno).
    Refuse("a client hung up during the CURVE handshake (not CURVE, or a wrong server key?)",
           "hangup");
    return;
  }
  if (id != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) return;
  const bool mismatch = value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH;
  Refuse(mismatch ? "refused a client that does not speak CURVE"
                  : "refused a handshake (protocol error " + std::to_string(value) + ")",
         "protocol:" + std::to_string(value));
}

void ZapHandler::Refuse(const std::string& what, const std::string& log_key) {
  refused_->fetch_add(1);
  // Once per key: a misconfigured agent retries every second and would flood the log.
  if (log_ && logged_.insert(log_key).second) log_(LinkLogLevel::kWarning, what);
}

}  // namespace farm::transport::internal
