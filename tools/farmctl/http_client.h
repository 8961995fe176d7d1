// A small synchronous HTTP/1.1 client for farmd's API (Boost.Beast and OpenSSL live only in
// http_client.cc). One connection per request; the timeout covers connect, TLS handshake,
// write and read. HTTPS trusts farmd's self-signed certificate by its pinned SHA-256
// fingerprint (tls_cert.h), not through a CA chain.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "farm/schemas/status.h"

namespace farmctl {

struct HttpResponse {
  int status = 0;
  std::string body;
};

struct HttpRequest {
  std::string method = "GET";  // GET or POST
  std::string target = "/";    // path and query
  std::string token;           // sent as "Authorization: Bearer <token>" when not empty
  std::string body;            // sent as application/json when not empty
  std::chrono::milliseconds timeout{10000};
  // For https:// endpoints: the certificate's "sha256:<hex>" (any form
  // NormalizeFingerprint reads). Checked after the handshake, before the token is sent.
  std::string fingerprint;
};

// `endpoint` is HOST:PORT or http://HOST:PORT (plain HTTP), or https://HOST:PORT (TLS 1.2+,
// the peer's certificate must match request.fingerprint). Unavailable when nothing answers
// or the TLS handshake fails (the message names the endpoint), TimedOut past the timeout,
// InvalidArgument for a malformed endpoint or an https:// endpoint without a fingerprint,
// FailedPrecondition when the certificate does not match the pin (both fingerprints in the
// message). Any HTTP status is a success here.
farm::StatusOr<HttpResponse> SendHttp(const std::string& endpoint, const HttpRequest& request);

// farmd's JSON API on top of SendHttp: 2xx answers parsed as JSON; others become a
// Status carrying the API's {"error": {"code", "message"}} (401 -> FailedPrecondition
// "wrong or missing token", 404 -> NotFound, 400 -> InvalidArgument, else Unavailable).
class ApiClient {
 public:
  ApiClient(std::string endpoint, std::string token,
            std::chrono::milliseconds timeout = std::chrono::seconds(10),
            std::string fingerprint = "")
      : endpoint_(std::move(endpoint)),
        token_(std::move(token)),
        timeout_(timeout),
        fingerprint_(std::move(fingerprint)) {}

  farm::StatusOr<nlohmann::json> Get(const std::string& target) const;
  farm::StatusOr<nlohmann::json> Post(const std::string& target, const nlohmann::json& body) const;

  const std::string& endpoint() const { return endpoint_; }

 private:
  farm::StatusOr<nlohmann::json> Call(const std::string& method, const std::string& target,
                                      std::string body) const;

  std::string endpoint_;
  std::string token_;
  std::chrono::milliseconds timeout_;
  std::string fingerprint_;
};

// True for an "https://" endpoint.
bool IsHttpsEndpoint(const std::string& endpoint);

}  // namespace farmctl
