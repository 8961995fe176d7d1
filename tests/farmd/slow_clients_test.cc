// Slow clients against farmd's listener: a full connection table of clients trickling
// their headers (or stalling TLS handshakes) does not lock others out, because a new
// connection closes the one that has waited longest; the header deadline cuts a trickle
// off on its own; a slow body is bounded by the I/O timeout, not the header deadline.
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "farm/farmd/tls_cert.h"
#include "http_client.h"
#include "http_fixture.h"

namespace farm::farmd::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::size_t kMaxConnections = 8;

// Sends the start of a request and never finishes its headers.
int OpenTrickle(const std::string& endpoint) {
  const int fd = ConnectTcp(endpoint);
  if (fd < 0) return fd;
  const std::string start = "GET /api/v1/sweeps HTTP/1.1\r\nHost: slow\r\nX-Pad: a";
  (void)send(fd, start.data(), start.size(), MSG_NOSIGNAL);
  return fd;
}

milliseconds Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

class SlowClientsTest : public HttpFixture {};

TEST_F(SlowClientsTest, AFullTableOfSlowHeadersDoesNotLockOutHealthz) {
  HttpServerOptions options;
  options.max_connections = kMaxConnections;
  // Far longer than the test: only eviction can free a slot.
  options.header_timeout = seconds(60);
  options.io_timeout = seconds(60);
  auto server = Serve(options);
  ASSERT_TRUE(server);
  std::vector<int> slow;
  for (std::size_t i = 0; i < kMaxConnections; ++i) {
    slow.push_back(OpenTrickle(server->endpoint()));
    ASSERT_GE(slow.back(), 0);
    std::this_thread::sleep_for(milliseconds(20));  // an order of age
  }
  std::this_thread::sleep_for(milliseconds(200));  // every one accepted and reading headers
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(PlainGet(server->endpoint(), "/healthz"), 200);
    EXPECT_LT(Since(start).count(), 2000) << "healthz waited behind slow clients";
  }
  EXPECT_GE(server->evicted_connections(), 1u);
  // ... and /metrics says so.
  const int metrics = ConnectTcp(server->endpoint());
  ASSERT_GE(metrics, 0);
  const std::string text = Exchange(metrics,
                                    "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                                    "Authorization: Bearer sesame\r\n\r\n");
  close(metrics);
  const std::string evicted = "\nfarm_http_connections_evicted_total ";
  const std::size_t at = text.find(evicted);
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_GE(std::stoi(text.substr(at + evicted.size())), 1) << text;
  EXPECT_NE(text.find("\nfarm_http_connections "), std::string::npos) << text;
  // The oldest trickle made room first: it is closed, the newest still open.
  EXPECT_LT(TimeUntilClosed(slow.front(), milliseconds(2000)).count(), 2000);
  EXPECT_EQ(TimeUntilClosed(slow.back(), milliseconds(300)).count(), 300);
  for (int fd : slow) close(fd);
}

TEST_F(SlowClientsTest, AFullTableOfStalledHandshakesDoesNotLockOutHttpsClients) {
  auto pair = GenerateSelfSignedCertificate(RequestForHost("127.0.0.1"));
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  HttpServerOptions options;
  options.max_connections = kMaxConnections;
  options.header_timeout = seconds(60);
  options.tls = {true, pair->cert_pem, pair->key_pem};
  auto server = Serve(options);
  ASSERT_TRUE(server);
  std::vector<int> stalled;
  for (std::size_t i = 0; i < kMaxConnections; ++i) {
    stalled.push_back(ConnectTcp(server->endpoint()));
    ASSERT_GE(stalled.back(), 0);
  }
  std::this_thread::sleep_for(milliseconds(200));
  farmctl::HttpRequest request;
  request.target = "/healthz";
  request.fingerprint = pair->fingerprint;
  request.timeout = seconds(5);
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto reply = farmctl::SendHttp("https://" + server->endpoint(), request);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(reply->status, 200);
    EXPECT_LT(Since(start).count(), 2000);
  }
  EXPECT_GE(server->evicted_connections(), 1u);
  for (int fd : stalled) close(fd);
}

TEST_F(SlowClientsTest, HeaderDeadlineCutsATrickleButNotASlowBody) {
  HttpServerOptions options;
  options.header_timeout = seconds(1);
  options.io_timeout = seconds(20);
  auto server = Serve(options);
  ASSERT_TRUE(server);
  // Headers never finished: closed after the header deadline, long before io_timeout.
  const int trickle = OpenTrickle(server->endpoint());
  ASSERT_GE(trickle, 0);
  const milliseconds cut = TimeUntilClosed(trickle, milliseconds(5000));
  close(trickle);
  EXPECT_LT(cut.count(), 5000) << "a trickle of headers outlived the 1 s header deadline";

  // Headers at once, then a body a byte every 250 ms for 2.5 s: answered (401, no token).
  const int body = ConnectTcp(server->endpoint());
  ASSERT_GE(body, 0);
  const std::string payload(10, 'x');
  const std::string head =
      "POST /api/v1/sweeps HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(payload.size()) + "\r\n\r\n";
  ASSERT_EQ(send(body, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  for (std::size_t i = 0; i + 1 < payload.size(); ++i) {
    ASSERT_EQ(send(body, &payload[i], 1, MSG_NOSIGNAL), 1) << "cut off after " << i << " bytes";
    std::this_thread::sleep_for(milliseconds(250));
  }
  const std::string response = Exchange(body, payload.substr(payload.size() - 1));
  close(body);
  EXPECT_EQ(response.rfind("HTTP/1.1 401", 0), 0u) << "'" << response << "'";
}

}  // namespace
}  // namespace farm::farmd::testing
