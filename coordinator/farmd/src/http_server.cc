// The Beast HTTP server: one thread runs an io_context with asynchronous sessions; each
// complete request goes to the loop thread through Coordinator::Post, and the answer
// comes back to the io_context with net::post. The only file that includes Beast.
#include "farm/farmd/http_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <charconv>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace farm::farmd {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// Lets a posted loop task find the io_context only while the server is running.
struct IoHandle {
  std::mutex mutex;
  net::io_context* io = nullptr;  // guarded by mutex; null once stopped
};

class HttpServerImpl {
 public:
  HttpServerImpl(Coordinator& coordinator, HttpServerOptions options)
      : coordinator_(coordinator), options_(std::move(options)), acceptor_(io_) {}
  ~HttpServerImpl() { Stop(); }

  Status Start();
  void Stop();
  void Accept();

  Coordinator& coordinator_;
  HttpServerOptions options_;
  // Shared with posted loop tasks, which may outlive the server.
  std::shared_ptr<const ApiOptions> api_ = std::make_shared<const ApiOptions>(options_.api);
  std::shared_ptr<IoHandle> handle_ = std::make_shared<IoHandle>();
  std::shared_ptr<std::atomic<std::size_t>> connections_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  net::io_context io_{1};
  tcp::acceptor acceptor_;
  // Sessions waiting for the loop's answer (io thread only). Declared after io_ so that
  // their sockets close before the io_context goes.
  std::set<std::shared_ptr<void>> waiting_;
  std::thread thread_;
  std::string endpoint_;
  bool stopped_ = false;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServerImpl& server)
      : stream_(std::move(socket)), server_(server), connections_(server.connections_) {
    ++*connections_;
  }
  ~Session() { --*connections_; }

  void Read() {
    parser_.emplace();
    parser_->body_limit(server_.options_.max_body_bytes);
    stream_.expires_after(server_.options_.io_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      ApiResponse too_large{413, "application/json",
                            R"({"error":{"code":"payload_too_large","message":"body over )" +
                                std::to_string(server_.options_.max_body_bytes) + R"( bytes"}})"};
      Write(std::move(too_large), /*keep_alive=*/false, 11);
      return;
    }
    if (ec) return;  // closed, timed out or garbage: drop the connection
    http::request<http::string_body> request = parser_->release();
    ApiRequest api;
    api.method = std::string(request.method_string());
    api.target = std::string(request.target());
    api.authorization = std::string(request[http::field::authorization]);
    api.content_type = std::string(request[http::field::content_type]);
    api.body = std::move(request.body());
    const bool keep_alive = request.keep_alive();
    const unsigned version = request.version();
    // The Scheduler and Store belong to the loop thread: run the request there. The task
    // holds no reference to the server or the session (it may run after Stop); the
    // session waits in `waiting_` and is found again through a weak pointer.
    auto self = shared_from_this();
    server_.waiting_.insert(self);
    std::weak_ptr<Session> weak = self;
    HttpServerImpl* server = &server_;
    server_.coordinator_.Post([coordinator = &server_.coordinator_, api_options = server_.api_,
                               handle = server_.handle_, api = std::move(api), weak, server,
                               keep_alive, version]() mutable {
      ApiResponse response = HandleApiRequest(*coordinator, *api_options, api);
      std::lock_guard<std::mutex> lock(handle->mutex);
      if (handle->io == nullptr) return;  // server stopped: the connection is gone
      net::post(*handle->io,
                [weak, server, response = std::move(response), keep_alive, version]() mutable {
                  auto session = weak.lock();
                  if (!session) return;
                  server->waiting_.erase(session);
                  session->Write(std::move(response), keep_alive, version);
                });
    });
  }

  void Write(ApiResponse api, bool keep_alive, unsigned version) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<http::status>(api.status));
    response_.set(http::field::server, "farmd");
    response_.set(http::field::content_type, api.content_type);
    // The dashboard shares this listener: browsers must not guess types (an artifact
    // served as bytes stays bytes) nor frame its pages (the cancel button).
    response_.set("X-Content-Type-Options", "nosniff");
    response_.set("X-Frame-Options", "DENY");
    response_.set(http::field::cache_control, "no-store");
    response_.keep_alive(keep_alive);
    response_.body() = std::move(api.body);
    response_.prepare_payload();
    stream_.expires_after(server_.options_.io_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (keep_alive) {
                          self->Read();
                        } else {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          // Read what the client still sends (e.g. a refused body) so that
                          // closing does not reset the connection before it reads our answer.
                          self->stream_.expires_after(std::chrono::seconds(2));
                          self->Drain();
                        }
                      });
  }

  void Drain() {
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec) self->Drain();
                            });
  }

  beast::tcp_stream stream_;
  HttpServerImpl& server_;
  std::shared_ptr<std::atomic<std::size_t>> connections_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::array<char, 4096> drain_;
};

}  // namespace

Status HttpServerImpl::Start() {
  const std::size_t colon = options_.listen.rfind(':');
  if (colon == std::string::npos) {
    return InvalidArgument("listen address '" + options_.listen + "': expected host:port");
  }
  std::string host = options_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = options_.listen.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, pec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (pec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) {
    return InvalidArgument("listen address '" + options_.listen + "': bad port");
  }
  beast::error_code ec;
  const auto address = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return InvalidArgument("listen address '" + options_.listen + "': " + ec.message());
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen on " + options_.listen + ": " + ec.message());
  const tcp::endpoint bound = acceptor_.local_endpoint();
  const std::string bound_host = bound.address().to_string();
  endpoint_ = (bound.address().is_v6() ? "[" + bound_host + "]" : bound_host) + ":" +
              std::to_string(bound.port());
  {
    std::lock_guard<std::mutex> lock(handle_->mutex);
    handle_->io = &io_;
  }
  Accept();
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::error("http server stopped: {}", e.what());
    }
  });
  return Status::Ok();
}

void HttpServerImpl::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (connections_->load() >= options_.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);  // overloaded: refuse rather than queue without bound
      } else {
        std::make_shared<Session>(std::move(socket), *this)->Read();
      }
    }
    Accept();
  });
}

void HttpServerImpl::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(handle_->mutex);
    handle_->io = nullptr;
  }
  net::post(io_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  io_.stop();
  if (thread_.joinable()) thread_.join();
  waiting_.clear();  // the io thread is gone: safe to touch from here
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Coordinator& coordinator,
                                                        HttpServerOptions options) {
  auto impl = std::make_unique<HttpServerImpl>(coordinator, std::move(options));
  FARM_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<HttpServerImpl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }
std::string HttpServer::endpoint() const { return impl_->endpoint_; }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace farm::farmd
