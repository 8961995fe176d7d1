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

// HTTPS: the certificate and key as PEM (tls_cert.h makes and keeps them). TLS 1.2 or
// 1.3 (1.3 preferred); a client speaking plain HTTP to such a port is answered 400 in
// plain text with the https:// address to use, then closed.
struct HttpTlsOptions {
  bool enabled = false;
  std::string cert_pem;
  std::string key_pem;
};

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";     // host:port; port 0 picks a free one
  std::size_t max_body_bytes = 4u << 20;  // larger bodies get 413
  std::chrono::seconds io_timeout{30};    // a request body, an answer's write
  // From accepting a connection (or the end of its previous answer) to a request's last
  // header byte, TLS handshake included: a client trickling its headers or stalling its
  // handshake is closed then. Capped at io_timeout.
  std::chrono::seconds header_timeout{10};
  // Open connections at most. When full, a new connection closes the one that has waited
  // longest in its handshake or headers (or idle between requests); only when every one
  // is busy with a request is the new one refused.
  std::size_t max_connections = 256;
  HttpTlsOptions tls;
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
  // True when it serves HTTPS.
  bool tls() const;
  // Connections closed to make room for new ones (header or handshake pending, or idle).
  std::size_t evicted_connections() const;
  // Closes the listener and every connection, joins the thread. Idempotent.
  void Stop();

 private:
  explicit HttpServer(std::unique_ptr<HttpServerImpl> impl);
  std::unique_ptr<HttpServerImpl> impl_;
};

}  // namespace farm::farmd
