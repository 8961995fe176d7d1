#include "http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "farm/farmd/tls_cert.h"

namespace farmctl {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

constexpr std::string_view kHttps = "https://";
constexpr std::string_view kHttp = "http://";

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string address;  // HOST:PORT, for messages
};

farm::StatusOr<Target> ParseEndpoint(std::string endpoint) {
  Target target;
  if (endpoint.rfind(kHttps, 0) == 0) {
    target.tls = true;
    endpoint.erase(0, kHttps.size());
  } else if (endpoint.rfind(kHttp, 0) == 0) {
    endpoint.erase(0, kHttp.size());
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size() ||
      endpoint.find('/') != std::string::npos) {
    return farm::InvalidArgument("endpoint '" + endpoint +
                                 "': expected HOST:PORT, http://HOST:PORT or https://HOST:PORT");
  }
  target.host = endpoint.substr(0, colon);
  if (target.host.size() >= 2 && target.host.front() == '[' && target.host.back() == ']')
    target.host = target.host.substr(1, target.host.size() - 2);
  target.port = endpoint.substr(colon + 1);
  target.address = endpoint;
  return target;
}

// The SHA-256 fingerprint of the certificate the peer presented; empty when none.
std::string PeerFingerprint(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  std::string fingerprint = farm::farmd::FingerprintOfCertificate(cert);
  X509_free(cert);
  return fingerprint;
}

}  // namespace

bool IsHttpsEndpoint(const std::string& endpoint) { return endpoint.rfind(kHttps, 0) == 0; }

farm::StatusOr<HttpResponse> SendHttp(const std::string& endpoint, const HttpRequest& request) {
  FARM_ASSIGN_OR_RETURN(const Target target, ParseEndpoint(endpoint));
  const std::string where = "farmd at " + (target.tls ? std::string(kHttps) : "") + target.address;
  std::string pin;
  if (target.tls) {
    if (request.fingerprint.empty()) {
      return farm::InvalidArgument(
          where +
          ": no certificate fingerprint to check it against: pass --fingerprint "
          "sha256:<hex> (`farmctl cert show` on the farmd host prints it) or add the "
          "farm to the known farms file (`farmctl init`)");
    }
    FARM_ASSIGN_OR_RETURN(pin, farm::farmd::NormalizeFingerprint(request.fingerprint));
  }

  net::io_context ioc;
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto addresses = resolver.resolve(target.host, target.port, ec);
  if (ec) return farm::Unavailable("cannot resolve " + where + ": " + ec.message());

  http::request<http::string_body> req{
      request.method == "POST" ? http::verb::post : http::verb::get, request.target, 11};
  req.set(http::field::host, target.host);
  req.set(http::field::user_agent, "farmctl");
  if (!request.token.empty()) req.set(http::field::authorization, "Bearer " + request.token);
  if (!request.body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = request.body;
  req.prepare_payload();

  // The peer is trusted by its pinned fingerprint, checked right after the handshake;
  // OpenSSL's chain verification would refuse a self-signed certificate.
  ssl::context context(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  context.set_verify_mode(ssl::verify_none);

  // Asynchronous operations under one deadline: tcp_stream's timer bounds them all.
  std::optional<beast::tcp_stream> plain_only;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  if (target.tls) {
    secure.emplace(ioc, context);
    beast::error_code not_address;
    net::ip::make_address(target.host, not_address);
    // SNI only for names (RFC 6066 forbids addresses there).
    if (not_address) SSL_set_tlsext_host_name(secure->native_handle(), target.host.c_str());
  } else {
    plain_only.emplace(ioc);
  }
  beast::tcp_stream& plain = secure ? secure->next_layer() : *plain_only;
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code failure;
  std::optional<farm::Status> refused;
  std::string stage = "connect to";
  auto exchange = [&](auto& stream) {
    stage = "send to";
    http::async_write(stream, req, [&](beast::error_code write_ec, std::size_t) {
      if (write_ec) {
        failure = write_ec;
        return;
      }
      stage = "read from";
      http::async_read(stream, buffer, res,
                       [&](beast::error_code read_ec, std::size_t) { failure = read_ec; });
    });
  };
  plain.expires_after(request.timeout);
  plain.async_connect(addresses, [&](beast::error_code connect_ec, const tcp::endpoint&) {
    if (connect_ec) {
      failure = connect_ec;
      return;
    }
    if (!secure) return exchange(*plain_only);
    stage = "complete a TLS handshake with";
    secure->async_handshake(ssl::stream_base::client, [&](beast::error_code handshake_ec) {
      if (handshake_ec) {
        failure = handshake_ec;
        return;
      }
      const std::string presented = PeerFingerprint(secure->native_handle());
      if (presented != pin) {
        refused = farm::FailedPrecondition(
            where + " presented a certificate with fingerprint " +
            (presented.empty() ? std::string("(none)") : presented) + ", but the pin is " + pin +
            ": nothing was sent. If farmd's certificate was replaced on purpose, check the new "
            "one with `farmctl cert show` on the farmd host and update --fingerprint or the "
            "known farms file; otherwise something else answers at this address");
        return;
      }
      exchange(*secure);
    });
  });
  ioc.run();
  plain.socket().shutdown(tcp::socket::shutdown_both, ec);
  if (refused) return *refused;
  if (failure == beast::error::timeout) {
    return farm::Status(farm::StatusCode::kTimedOut,
                        "cannot " + stage + " " + where + ": no answer within " +
                            std::to_string(request.timeout.count()) + " ms");
  }
  if (failure && secure && stage == "complete a TLS handshake with") {
    return farm::Unavailable("TLS handshake with " + where + " failed: " + failure.message() +
                             " (does farmd serve plain HTTP there? then use http://" +
                             target.address + ")");
  }
  if (failure) return farm::Unavailable("cannot " + stage + " " + where + ": " + failure.message());
  return HttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
}

farm::StatusOr<nlohmann::json> ApiClient::Get(const std::string& target) const {
  return Call("GET", target, "");
}

farm::StatusOr<nlohmann::json> ApiClient::Post(const std::string& target,
                                               const nlohmann::json& body) const {
  return Call("POST", target, body.dump());
}

farm::StatusOr<nlohmann::json> ApiClient::Call(const std::string& method, const std::string& target,
                                               std::string body) const {
  HttpRequest request;
  request.method = method;
  request.target = target;
  request.token = token_;
  request.body = std::move(body);
  request.timeout = timeout_;
  request.fingerprint = fingerprint_;
  FARM_ASSIGN_OR_RETURN(HttpResponse response, SendHttp(endpoint_, request));
  nlohmann::json json = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const std::string what = method + " " + target;
  if (response.status >= 200 && response.status < 300) {
    if (json.is_discarded()) return farm::DataLoss(what + ": farmd answered with invalid JSON");
    return json;
  }
  std::string message = "HTTP " + std::to_string(response.status);
  if (!json.is_discarded() && json.is_object() && json.contains("error") &&
      json["error"].is_object()) {
    message = json["error"].value("message", message);
  }
  message = what + ": " + message;
  switch (response.status) {
    case 400:
      return farm::InvalidArgument(message);
    case 401:
      return farm::FailedPrecondition(message + " (check --token or $STUDIOFARM_TOKEN)");
    case 404:
      return farm::NotFound(message);
    case 409:
      return farm::FailedPrecondition(message);
    default:
      return farm::Unavailable(message);
  }
}

}  // namespace farmctl
