// The Beast HTTP(S) server: one thread runs an io_context with asynchronous sessions; each
// complete request goes to the loop thread through Coordinator::Post, and the answer
// comes back to the io_context with net::post. The only file that includes Beast.
#include "farm/farmd/http_server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace farm::farmd {
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

// Lets a posted loop task find the io_context only while the server is running.
struct IoHandle {
  std::mutex mutex;
  net::io_context* io = nullptr;  // guarded by mutex; null once stopped
};

// The listener's counters for /metrics: read on the loop thread, so atomics; shared with
// the API options, which posted loop tasks may hold after the server is gone.
struct HttpCounters {
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint64_t> evicted{0};
  std::atomic<std::uint64_t> refused{0};

  std::string Text() const {
    return "# HELP farm_http_connections Open connections of the HTTP API.\n"
           "# TYPE farm_http_connections gauge\nfarm_http_connections " +
           std::to_string(open.load()) +
           "\n# HELP farm_http_connections_evicted_total Connections closed to make room for "
           "new ones (handshake or headers pending, or idle).\n"
           "# TYPE farm_http_connections_evicted_total counter\n"
           "farm_http_connections_evicted_total " +
           std::to_string(evicted.load()) +
           "\n# HELP farm_http_connections_refused_total Connections refused because every "
           "open one had a request in hand.\n"
           "# TYPE farm_http_connections_refused_total counter\n"
           "farm_http_connections_refused_total " +
           std::to_string(refused.load()) + "\n";
  }
};

// What a connection is doing, for choosing which one to close when the table is full.
enum class Phase {
  kHandshake,  // TLS detection and handshake
  kHeader,     // waiting for a request's headers (also idle between requests)
  kBusy,       // reading a body, waiting for the loop, writing the answer
  kClosing,    // answer sent, draining before close
  kClosed,     // closed by eviction, its handlers not yet run
};

// The part of a session the server's connection table sees (io thread only).
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Close() = 0;
  Phase phase_ = Phase::kHandshake;
  SteadyTime phase_since_ = std::chrono::steady_clock::now();
  std::list<SessionBase*>::iterator entry_;
};

class HttpServerImpl {
 public:
  HttpServerImpl(Coordinator& coordinator, HttpServerOptions options)
      : coordinator_(coordinator), options_(std::move(options)), acceptor_(io_) {}
  ~HttpServerImpl() { Stop(); }

  Status Start();
  void Stop();
  void Accept();
  // False when the table is full of busy connections: the new one is refused.
  bool MakeRoom();
  std::chrono::seconds header_timeout() const {
    return std::min(options_.header_timeout, options_.io_timeout);
  }

  std::shared_ptr<const ApiOptions> MakeApiOptions() const {
    auto api = std::make_shared<ApiOptions>(options_.api);
    api->extra_metrics = [counters = counters_, previous = api->extra_metrics] {
      return (previous ? previous() : std::string()) + counters->Text();
    };
    return api;
  }

  Coordinator& coordinator_;
  HttpServerOptions options_;
  std::shared_ptr<HttpCounters> counters_ = std::make_shared<HttpCounters>();
  // Shared with posted loop tasks, which may outlive the server.
  std::shared_ptr<const ApiOptions> api_ = MakeApiOptions();
  std::shared_ptr<IoHandle> handle_ = std::make_shared<IoHandle>();
  // Every open session (io thread only). Declared before io_: sessions whose handlers the
  // io_context destroys unregister themselves here.
  std::list<SessionBase*> sessions_;
  std::size_t closed_ = 0;  // sessions_ entries already in Phase::kClosed
  std::optional<ssl::context> ssl_;
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

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(tcp::socket socket, HttpServerImpl& server)
      : stream_(MakeStream(std::move(socket), server)), server_(server) {
    server_.sessions_.push_back(this);
    entry_ = std::prev(server_.sessions_.end());
    ++server_.counters_->open;
  }
  ~Session() override {
    if (phase_ == Phase::kClosed) --server_.closed_;
    server_.sessions_.erase(entry_);
    --server_.counters_->open;
  }

  void Start() {
    // One deadline from accept to the first request's last header byte.
    Lowest().expires_after(server_.header_timeout());
    if constexpr (kTls) {
      SetPhase(Phase::kHandshake);
      beast::async_detect_ssl(stream_.next_layer(), buffer_,
                              [self = this->shared_from_this()](beast::error_code ec, bool tls) {
                                self->OnDetect(ec, tls);
                              });
    } else {
      ReadHeader();
    }
  }

  void Close() override {
    if (phase_ == Phase::kClosed) return;
    SetPhase(Phase::kClosed);
    ++server_.closed_;
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().socket().close(ignored);
  }

 private:
  static Stream MakeStream(tcp::socket socket, HttpServerImpl& server) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server.ssl_);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void SetPhase(Phase phase) {
    if (phase_ == Phase::kClosed) return;
    phase_ = phase;
    phase_since_ = std::chrono::steady_clock::now();
  }

  void OnDetect(beast::error_code ec, bool tls) {
    if (ec || phase_ == Phase::kClosed) return;
    if constexpr (kTls) {
      if (!tls) {
        AnswerPlainHttp();
        return;
      }
      stream_.async_handshake(
          ssl::stream_base::server, buffer_.data(),
          [self = this->shared_from_this()](beast::error_code hec, std::size_t used) {
            if (hec) return;  // stalled (deadline), refused or garbage
            self->buffer_.consume(used);
            self->ReadHeader();
          });
    }
  }

  // A plain HTTP request on the TLS port: say so in plain HTTP, so curl and browsers show
  // why, rather than dropping the connection.
  void AnswerPlainHttp() {
    if constexpr (kTls) {
      SetPhase(Phase::kBusy);
      response_ = {};
      response_.version(11);
      response_.result(http::status::bad_request);
      response_.set(http::field::server, "farmd");
      response_.set(http::field::content_type, "application/json");
      response_.keep_alive(false);
      response_.body() =
          R"J({"error":{"code":"https_required","message":"farmd serves HTTPS on this port: )J"
          R"J(use https://HOST:PORT and pin its certificate fingerprint"}})J";
      response_.prepare_payload();
      Lowest().expires_after(server_.options_.io_timeout);
      http::async_write(Lowest(), response_,
                        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                          if (!ec) self->FinishPlain();
                        });
    }
  }

  void ReadHeader() {
    if (phase_ == Phase::kClosed) return;
    SetPhase(Phase::kHeader);
    parser_.emplace();
    parser_->body_limit(server_.options_.max_body_bytes);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec == http::error::body_limit) return TooLarge();
    if (ec) return;  // closed, past the header deadline or garbage: drop the connection
    SetPhase(Phase::kBusy);
    Lowest().expires_after(server_.options_.io_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code rec, std::size_t) {
                       self->OnRead(rec);
                     });
  }

  void TooLarge() {
    ApiResponse too_large{413, "application/json",
                          R"({"error":{"code":"payload_too_large","message":"body over )" +
                              std::to_string(server_.options_.max_body_bytes) + R"( bytes"}})"};
    SetPhase(Phase::kBusy);
    Write(std::move(too_large), /*keep_alive=*/false, 11);
  }

  void OnRead(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec == http::error::body_limit) return TooLarge();
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
    // No deadline while the loop works on it: the loop's time is not the client's fault.
    Lowest().expires_never();
    // The Scheduler and Store belong to the loop thread: run the request there. The task
    // holds no reference to the server or the session (it may run after Stop); the
    // session waits in `waiting_` and is found again through a weak pointer.
    auto self = this->shared_from_this();
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
    if (phase_ == Phase::kClosed) return;
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
    Lowest().expires_after(server_.options_.io_timeout);
    http::async_write(
        stream_, response_,
        [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
          if (ec) return;
          if (keep_alive) {
            self->Lowest().expires_after(self->server_.header_timeout());
            self->ReadHeader();
          } else {
            self->Finish();
          }
        });
  }

  // After the last answer: TLS sends its close_notify first; then as FinishPlain.
  void Finish() {
    SetPhase(Phase::kClosing);
    if constexpr (kTls) {
      Lowest().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        self->Lowest().socket().close(ignored);
      });
    } else {
      FinishPlain();
    }
  }

  void FinishPlain() {
    SetPhase(Phase::kClosing);
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Read what the client still sends (e.g. a refused body) so that closing does not
    // reset the connection before it reads our answer.
    Lowest().expires_after(std::chrono::seconds(2));
    Drain();
  }

  void Drain() {
    Lowest().async_read_some(net::buffer(drain_),
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               if (!ec) self->Drain();
                             });
  }

  Stream stream_;
  HttpServerImpl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::array<char, 4096> drain_;
};

Status MakeTlsContext(const HttpTlsOptions& tls, std::optional<ssl::context>& context) {
  context.emplace(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  // TLS 1.2 only with forward-secret AEAD suites; 1.3's defaults are all fine.
  SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20");
  beast::error_code ec;
  context->use_certificate_chain(net::buffer(tls.cert_pem), ec);
  if (ec) return InvalidArgument("TLS certificate: " + ec.message());
  context->use_private_key(net::buffer(tls.key_pem), ssl::context::pem, ec);
  if (ec) return InvalidArgument("TLS private key: " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return InvalidArgument("TLS private key does not belong to the certificate");
  }
  return Status::Ok();
}

}  // namespace

Status HttpServerImpl::Start() {
  if (options_.tls.enabled) FARM_RETURN_IF_ERROR(MakeTlsContext(options_.tls, ssl_));
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

bool HttpServerImpl::MakeRoom() {
  if (sessions_.size() - closed_ < options_.max_connections) return true;
  // Full: close the connection that has waited longest without a request in hand. Slow
  // or stalled clients then cost a slot only until newer clients arrive.
  SessionBase* oldest = nullptr;
  for (SessionBase* session : sessions_) {
    const Phase phase = session->phase_;
    if (phase == Phase::kBusy || phase == Phase::kClosed) continue;
    if (oldest == nullptr || session->phase_since_ < oldest->phase_since_) oldest = session;
  }
  if (oldest == nullptr) return false;
  oldest->Close();
  ++counters_->evicted;
  return true;
}

void HttpServerImpl::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (!MakeRoom()) {
        beast::error_code ignored;
        socket.close(ignored);  // every slot busy with a request: refuse rather than queue
        ++counters_->refused;
      } else if (ssl_) {
        std::make_shared<Session<TlsStream>>(std::move(socket), *this)->Start();
      } else {
        std::make_shared<Session<PlainStream>>(std::move(socket), *this)->Start();
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
bool HttpServer::tls() const { return impl_->ssl_.has_value(); }
std::size_t HttpServer::evicted_connections() const { return impl_->counters_->evicted.load(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace farm::farmd
