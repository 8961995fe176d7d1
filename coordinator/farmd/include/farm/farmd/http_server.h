// farmd's HTTP listener (Boost.Beast). It runs its own thread with an Asio io_context;
// each complete request is handed to the loop thread with Coordinator::Post and the
// connection waits (asynchronously) for the answer, because the Scheduler and the
// Store are not thread-safe. Beast stays inside http_server.cc.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "farm/farmd/api.h"
#include "farm/farmd/coordinator.h"
#include "farm/schemas/status.h"

namespace farm::farmd {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";     // host:port; port 0 picks a free one
  std::size_t max_body_bytes = 4u << 20;  // larger bodies get 413
  std::chrono::seconds io_timeout{30};    // per read/write of a connection
  std::size_t max_connections = 256;      // further connections are closed at once
  ApiOptions api;
};

class HttpServerImpl;

class HttpServer {
 public:
  // Binds and starts the server thread. The coordinator must outlive the server and its
  // loop must be running for requests to be answered. InvalidArgument for a bad listen
  // address; Unavailable when the bind fails.
  static StatusOr<std::unique_ptr<HttpServer>> Start(Coordinator& coordinator,
                                                     HttpServerOptions options);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "127.0.0.1:40123", with the bound port.
  std::string endpoint() const;
  // Closes the listener and every connection, joins the thread. Idempotent.
  void Stop();

 private:
  explicit HttpServer(std::unique_ptr<HttpServerImpl> impl);
  std::unique_ptr<HttpServerImpl> impl_;
};

}  // namespace farm::farmd
