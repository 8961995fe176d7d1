// The security thread behind ZmqAgentLink: answers ZAP requests (RFC 27) for the link's
// context and watches the ROUTER's monitor for handshakes refused before ZAP is asked
// (mechanism mismatch: NULL or PLAIN clients against the CURVE server). Private to
// farm_transport.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "farm/schemas/status.h"
#include "farm/transport/zmq_agent_link.h"

namespace farm::transport::internal {

// The ZAP endpoint libzmq asks; one per context.
inline constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";

class ZapHandler {
 public:
  using LogFn = std::function<void(LinkLogLevel, const std::string&)>;

  // Binds the ZAP socket in `context`; must run before the ROUTER accepts connections.
  // `monitor_endpoint` is where zmq_socket_monitor publishes the ROUTER's events; call
  // Start() after the monitor is set up. `refused` must outlive the handler.
  static StatusOr<std::unique_ptr<ZapHandler>> Bind(zmq::context_t& context,
                                                    std::set<std::string> allowed_keys, LogFn log,
                                                    std::atomic<std::uint64_t>* refused);

  // Connects to the monitor and starts the thread.
  Status Start(const std::string& monitor_endpoint);

  ~ZapHandler();  // stops and joins the thread; its sockets close on it

  // Thread-safe: the keys admitted from the next handshake on, and the check the link
  // makes on every message (a key removed later is refused at once).
  void ReplaceAllowedKeys(std::set<std::string> keys);
  bool Allows(const std::string& key) const;

 private:
  ZapHandler(zmq::context_t& context, std::set<std::string> allowed_keys, LogFn log,
             std::atomic<std::uint64_t>* refused);

  void Run();
  void HandleZapRequest();
  void HandleMonitorEvent();
  void Refuse(const std::string& what, const std::string& log_key);

  zmq::context_t& context_;
  zmq::socket_t zap_;
  zmq::socket_t monitor_;
  mutable std::mutex keys_mutex_;
  std::set<std::string> allowed_keys_;  // Z85, under keys_mutex_
  const LogFn log_;
  std::atomic<std::uint64_t>* const refused_;
  std::set<std::string> logged_;  // keys / reasons already logged; only the thread uses it
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace farm::transport::internal
