#include "delay_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <future>
#include <list>
#include <vector>

#include "netns_lab.h"

namespace farm_netns {
namespace {

using Clock = std::chrono::steady_clock;

struct Chunk {
  Clock::time_point due;
  std::string bytes;
  std::size_t sent = 0;
};

// One direction of a proxied connection: bytes read from `from`, written to `to` when due.
struct Direction {
  int from = -1;
  int to = -1;
  std::deque<Chunk> queue;
  std::size_t buffered = 0;
  bool eof = false;      // `from` closed its sending side
  bool shut = false;     // ... and that was passed on to `to` once the queue drained
  bool blocked = false;  // `to` would block: wait for POLLOUT
};

struct Link {
  int client = -1;
  int server = -1;
  Direction up;    // client -> server
  Direction down;  // server -> client
  bool dead = false;
};

farm::Status Errno(const std::string& what) {
  return farm::Unavailable(what + ": " + std::strerror(errno));
}

farm::StatusOr<sockaddr_in> Address(const std::string& host, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return farm::InvalidArgument("not an IPv4 address: '" + host + "'");
  }
  return address;
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

void SetNoDelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

farm::StatusOr<int> Listen(const DelayProxyOptions& options) {
  FARM_ASSIGN_OR_RETURN(sockaddr_in address, Address(options.listen_host, options.listen_port));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd, 64) != 0) {
    farm::Status error = Errno("listen on " + options.listen_host + ":" +
                               std::to_string(options.listen_port));
    ::close(fd);
    return error;
  }
  return fd;
}

// Reads what `d.from` has; false when the link must be dropped.
bool ReadSide(Direction& d, std::chrono::milliseconds delay) {
  char buffer[64 * 1024];
  const ssize_t n = ::recv(d.from, buffer, sizeof(buffer), 0);
  if (n > 0) {
    d.queue.push_back({Clock::now() + delay, std::string(buffer, static_cast<std::size_t>(n))});
    d.buffered += static_cast<std::size_t>(n);
    return true;
  }
  if (n == 0) {
    d.eof = true;
    return true;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

// Writes every chunk that is due; false when the link must be dropped.
bool FlushDue(Direction& d, std::atomic<std::int64_t>& forwarded) {
  d.blocked = false;
  const auto now = Clock::now();
  while (!d.queue.empty() && d.queue.front().due <= now) {
    Chunk& chunk = d.queue.front();
    const ssize_t n = ::send(d.to, chunk.bytes.data() + chunk.sent, chunk.bytes.size() - chunk.sent,
                             MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        d.blocked = true;
        return true;
      }
      return false;
    }
    chunk.sent += static_cast<std::size_t>(n);
    d.buffered -= static_cast<std::size_t>(n);
    forwarded += n;
    if (chunk.sent < chunk.bytes.size()) {
      d.blocked = true;
      return true;
    }
    d.queue.pop_front();
  }
  if (d.eof && d.queue.empty() && !d.shut) {
    ::shutdown(d.to, SHUT_WR);
    d.shut = true;
  }
  return true;
}

}  // namespace

farm::StatusOr<std::unique_ptr<DelayProxy>> DelayProxy::Start(const DelayProxyOptions& options) {
  FARM_RETURN_IF_ERROR(Address(options.target_host, options.target_port).status());
  std::unique_ptr<DelayProxy> proxy(new DelayProxy(options));
  if (::pipe2(proxy->wake_, O_CLOEXEC | O_NONBLOCK) != 0) return Errno("pipe");
  std::promise<farm::StatusOr<int>> listening;
  std::future<farm::StatusOr<int>> listened = listening.get_future();
  DelayProxy* self = proxy.get();
  proxy->thread_ = std::thread([self, &listening] {
    farm::Status joined =
        self->options_.netns.empty() ? farm::Status::Ok() : JoinNetns(self->options_.netns);
    farm::StatusOr<int> fd = joined.ok() ? Listen(self->options_) : farm::StatusOr<int>(joined);
    const bool ok = fd.ok();
    const int listen_fd = ok ? *fd : -1;
    listening.set_value(std::move(fd));  // `listening` is gone after this
    if (ok) self->Run(listen_fd);
  });
  farm::StatusOr<int> fd = listened.get();
  if (!fd.ok()) return fd.status().WithContext("delay proxy");  // the thread has returned
  sockaddr_in bound{};
  socklen_t length = sizeof(bound);
  if (::getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0) {
    proxy->port_ = ntohs(bound.sin_port);
  }
  return proxy;
}

DelayProxy::~DelayProxy() {
  if (thread_.joinable()) {
    const char stop = 1;
    (void)::write(wake_[1], &stop, 1);
    thread_.join();
  }
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

void DelayProxy::Run(int listen_fd) {
  auto target = Address(options_.target_host, options_.target_port);  // checked in Start
  std::list<Link> links;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd, POLLIN, 0});
    auto next_due = Clock::time_point::max();
    for (Link& link : links) {
      for (Direction* d : {&link.up, &link.down}) {
        if (!d->blocked && !d->queue.empty()) next_due = std::min(next_due, d->queue.front().due);
      }
      const short client_events = static_cast<short>(
          (!link.up.eof && link.up.buffered < options_.max_buffered ? POLLIN : 0) |
          (link.down.blocked ? POLLOUT : 0));
      const short server_events = static_cast<short>(
          (!link.down.eof && link.down.buffered < options_.max_buffered ? POLLIN : 0) |
          (link.up.blocked ? POLLOUT : 0));
      fds.push_back({link.client, client_events, 0});
      fds.push_back({link.server, server_events, 0});
    }
    int timeout_ms = 1000;
    if (next_due != Clock::time_point::max()) {
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_due - Clock::now());
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 1000));
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) break;  // stop

    std::size_t at = 2;
    for (Link& link : links) {
      const pollfd& client = fds[at++];
      const pollfd& server = fds[at++];
      const bool ok = (!(client.revents & (POLLIN | POLLHUP | POLLERR)) ||
                       ReadSide(link.up, options_.delay)) &&
                      (!(server.revents & (POLLIN | POLLHUP | POLLERR)) ||
                       ReadSide(link.down, options_.delay)) &&
                      FlushDue(link.up, forwarded_) && FlushDue(link.down, forwarded_);
      if (!ok || (link.up.shut && link.down.shut)) link.dead = true;
    }
    for (auto it = links.begin(); it != links.end();) {
      if (!it->dead) {
        ++it;
        continue;
      }
      ::close(it->client);
      ::close(it->server);
      it = links.erase(it);
    }

    if (fds[1].revents & POLLIN) {
      const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client >= 0) {
        // Loopback or the lab's bridge: a blocking connect answers at once.
        const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (server >= 0 && ::connect(server, reinterpret_cast<const sockaddr*>(&*target),
                                     sizeof(sockaddr_in)) == 0) {
          SetNonBlocking(server);
          SetNoDelay(server);
          SetNoDelay(client);
          Link& link = links.emplace_back();
          link.client = client;
          link.server = server;
          link.up.from = link.down.to = client;
          link.up.to = link.down.from = server;
          ++accepted_;
        } else {
          ::close(client);  // the target is down: the client sees the connection end
          if (server >= 0) ::close(server);
        }
      }
    }
  }
  for (Link& link : links) {
    ::close(link.client);
    ::close(link.server);
  }
  ::close(listen_fd);
}

}  // namespace farm_netns
