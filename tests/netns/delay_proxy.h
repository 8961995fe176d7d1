// A TCP proxy that adds latency: what it reads from one side is written to the other
// `delay` later, in order, in both directions. This kernel has no netem, so latency between
// the lab's namespaces comes from here: agents connect to the proxy, which connects to farmd.
// One thread polls every socket; std and POSIX sockets only. Its sockets live in the network
// namespace given at start (the thread joins it), wherever the test itself runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "farm/schemas/status.h"

namespace farm_netns {

struct DelayProxyOptions {
  std::string netns;        // the namespace the proxy's sockets live in (empty: the caller's)
  std::string listen_host;  // IPv4 address to listen on
  int listen_port = 0;
  std::string target_host;  // where each accepted connection is forwarded
  int target_port = 0;
  std::chrono::milliseconds delay{20};  // one way, each direction
  // Bytes held per direction before the proxy stops reading that side (TCP backpressure).
  std::size_t max_buffered = 4 << 20;
};

class DelayProxy {
 public:
  // Listening once this returns; the error says why it could not.
  static farm::StatusOr<std::unique_ptr<DelayProxy>> Start(const DelayProxyOptions& options);
  ~DelayProxy();  // closes every connection
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  int port() const { return port_; }  // the listening port (listen_port 0 picks one)
  int connections_accepted() const { return accepted_.load(); }
  std::int64_t bytes_forwarded() const { return forwarded_.load(); }

 private:
  explicit DelayProxy(const DelayProxyOptions& options) : options_(options) {}
  void Run(int listen_fd);

  DelayProxyOptions options_;
  int wake_[2] = {-1, -1};  // a pipe: a byte on it stops the thread
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> accepted_{0};
  std::atomic<std::int64_t> forwarded_{0};
};

}  // namespace farm_netns
