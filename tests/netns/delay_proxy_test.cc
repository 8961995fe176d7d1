// The delaying proxy on loopback (no namespaces needed): bytes arrive intact and in order,
// each direction held for the delay, and a half-close passes through.
#include "delay_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>

namespace farm_netns {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int ListenLoopback(int* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd, 4) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return -1;
  }
  *port = ntohs(address.sin_port);
  return fd;
}

int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  for (std::size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until `size` bytes or EOF.
std::string Receive(int fd, std::size_t size) {
  std::string bytes;
  char buffer[65536];
  while (bytes.size() < size) {
    const ssize_t n = ::recv(fd, buffer, std::min(sizeof(buffer), size - bytes.size()), 0);
    if (n <= 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  return bytes;
}

TEST(DelayProxyTest, EchoesThroughTheProxyIntactAndLate) {
  int echo_port = 0;
  const int listener = ListenLoopback(&echo_port);
  ASSERT_GE(listener, 0);
  // An echo server: what it reads it writes back, until the client half-closes.
  std::thread echo([listener] {
    const int peer = ::accept(listener, nullptr, nullptr);
    char buffer[65536];
    for (ssize_t n; (n = ::recv(peer, buffer, sizeof(buffer), 0)) > 0;) {
      if (!SendAll(peer, std::string(buffer, static_cast<std::size_t>(n)))) break;
    }
    ::close(peer);
  });

  constexpr milliseconds kDelay(30);
  auto proxy = DelayProxy::Start({.netns = "",
                                  .listen_host = "127.0.0.1",
                                  .listen_port = 0,
                                  .target_host = "127.0.0.1",
                                  .target_port = echo_port,
                                  .delay = kDelay,
                                  .max_buffered = 64 * 1024});
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  ASSERT_GT((*proxy)->port(), 0);
  const int client = ConnectLoopback((*proxy)->port());
  ASSERT_GE(client, 0);

  // A round trip crosses the proxy twice.
  const auto start = Clock::now();
  ASSERT_TRUE(SendAll(client, "ping"));
  EXPECT_EQ(Receive(client, 4), "ping");
  EXPECT_GE(Clock::now() - start, 2 * kDelay);

  // Far more than the proxy buffers, so backpressure holds it back in both directions.
  std::string payload(2 << 20, '\0');
  std::mt19937 rng(7);
  for (char& c : payload) c = static_cast<char>(rng());
  std::thread writer([&] {
    EXPECT_TRUE(SendAll(client, payload));
    ::shutdown(client, SHUT_WR);
  });
  const std::string echoed = Receive(client, payload.size() + 1);  // +1: then EOF
  writer.join();
  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_TRUE(echoed == payload) << "bytes changed or reordered on the way";
  echo.join();
  EXPECT_EQ((*proxy)->connections_accepted(), 1);
  EXPECT_EQ((*proxy)->bytes_forwarded(), static_cast<std::int64_t>(2 * (payload.size() + 4)));
  ::close(client);
  ::close(listener);
}

TEST(DelayProxyTest, RefusesAnUnparsableAddress) {
  auto proxy = DelayProxy::Start({.netns = "",
                                  .listen_host = "localhost",
                                  .listen_port = 0,
                                  .target_host = "127.0.0.1",
                                  .target_port = 1,
                                  .delay = milliseconds(1),
                                  .max_buffered = 1024});
  ASSERT_FALSE(proxy.ok());
  EXPECT_NE(proxy.status().message().find("localhost"), std::string::npos)
      << proxy.status().ToString();
}

}  // namespace
}  // namespace farm_netns
