#include "http_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "farm/farmd/api_tokens.h"

namespace farm::farmd::testing {

void HttpFixture::SetUp() {
  auto store = store::Store::Open((dir_.path() / "farm.db").string(), store::OpenMode::kReadWrite);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(*store);
  CoordinatorOptions options;
  options.artifact_root = (dir_.path() / "artifacts").string();
  auto coordinator = Coordinator::Create(options, *store_, link_, clock_);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
  coordinator_ = std::move(*coordinator);
  loop_ = std::thread([this] { (void)coordinator_->Run(stop_); });
}

void HttpFixture::TearDown() {
  stop_ = true;
  if (loop_.joinable()) loop_.join();
}

std::unique_ptr<HttpServer> HttpFixture::Serve(HttpServerOptions options) {
  options.listen = "127.0.0.1:0";
  options.api.tokens = {*MakeApiToken(TokenKind::kAdmin, "sesame")};
  auto server = HttpServer::Start(*coordinator_, std::move(options));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

int ConnectTcp(const std::string& endpoint, std::chrono::seconds receive_timeout) {
  const std::size_t colon = endpoint.rfind(':');
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &address.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{static_cast<time_t>(receive_timeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string Exchange(int fd, const std::string& request) {
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0)
    response.append(buffer, static_cast<std::size_t>(n));
  return response;
}

int PlainGet(const std::string& endpoint, const std::string& target) {
  const int fd = ConnectTcp(endpoint);
  if (fd < 0) return 0;
  const std::string response =
      Exchange(fd, "GET " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  close(fd);
  if (response.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

std::chrono::milliseconds TimeUntilClosed(int fd, std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  };
  char buffer[256];
  while (elapsed() < limit) {
    pollfd entry{fd, POLLIN, 0};
    const int left = static_cast<int>((limit - elapsed()).count());
    if (poll(&entry, 1, std::max(left, 1)) <= 0) continue;
    if (recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) <= 0) return elapsed();
  }
  return limit;
}

}  // namespace farm::farmd::testing
