// A farmd loop on its own thread (real clock, temp database, in-process agent link) for
// tests of the HTTP listener itself: TLS, slow clients, connection limits. Plus raw-socket
// helpers that depend on nothing the server uses.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "farm/farmd/http_server.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {

class HttpFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A listener on 127.0.0.1:0 sharing the loop; admin token "sesame". Fails the test
  // (and returns null) when it cannot start.
  std::unique_ptr<HttpServer> Serve(HttpServerOptions options);

  TempDir dir_;
  scheduler::SystemClock clock_;
  transport::InProcessAgentLink link_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Coordinator> coordinator_;
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

// A connected TCP socket to "HOST:PORT" (IPv4) with a receive timeout; -1 on failure.
int ConnectTcp(const std::string& endpoint,
               std::chrono::seconds receive_timeout = std::chrono::seconds(10));

// Sends `request` whole and reads until the server closes (or the receive timeout).
std::string Exchange(int fd, const std::string& request);

// A plain HTTP GET on a fresh connection: the status code (0 when none came back).
int PlainGet(const std::string& endpoint, const std::string& target);

// Time until the server closes `fd` (recv returns 0 or fails), or `limit` when it does not.
std::chrono::milliseconds TimeUntilClosed(int fd, std::chrono::milliseconds limit);

}  // namespace farm::farmd::testing
