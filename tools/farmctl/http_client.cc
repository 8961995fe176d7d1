#include "http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace farmctl {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

}  // namespace

farm::StatusOr<HttpResponse> SendHttp(const std::string& endpoint, const HttpRequest& request) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size()) {
    return farm::InvalidArgument("endpoint '" + endpoint + "': expected HOST:PORT");
  }
  const std::string host = endpoint.substr(0, colon);
  const std::string port = endpoint.substr(colon + 1);
  const std::string where = "farmd at " + endpoint;

  net::io_context ioc;
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto addresses = resolver.resolve(host, port, ec);
  if (ec) return farm::Unavailable("cannot resolve " + where + ": " + ec.message());

  http::request<http::string_body> req{
      request.method == "POST" ? http::verb::post : http::verb::get, request.target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "farmctl");
  if (!request.token.empty()) req.set(http::field::authorization, "Bearer " + request.token);
  if (!request.body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = request.body;
  req.prepare_payload();

  // Asynchronous operations under one deadline: tcp_stream's timer bounds them all.
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code failure;
  std::string stage = "connect to";
  stream.expires_after(request.timeout);
  stream.async_connect(addresses, [&](beast::error_code connect_ec, const tcp::endpoint&) {
    if (connect_ec) {
      failure = connect_ec;
      return;
    }
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
  });
  ioc.run();
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  if (failure == beast::error::timeout) {
    return farm::Status(farm::StatusCode::kTimedOut,
                        "cannot " + stage + " " + where + ": no answer within " +
                            std::to_string(request.timeout.count()) + " ms");
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
