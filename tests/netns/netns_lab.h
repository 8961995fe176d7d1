// Separate hosts on one machine: a network namespace for farmd and one per agent, joined into
// one small network. farmd's namespace holds a bridge `br0` (10.77.0.1/24) with one veth port
// per agent; agent i's namespace holds the other end as `eth0` (10.77.0.(10+i)). Nothing is
// added to the namespace the test runs in, so the lab neither needs nor touches its network.
//
// Names carry the test process's pid ("sfnet<pid>-farmd", "sfnet<pid>-a1"), so parallel runs
// do not collide; a crashed run's namespaces (same prefix, a pid no longer alive) are removed
// by the next Create. The destructor kills whatever still runs in the lab's namespaces (the
// harness's own farmd and agents) and deletes them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm_netns {

struct CommandResult {
  int exit_code = -1;  // as a shell shows it (128+signal)
  std::string output;  // stdout and stderr together
};

// The path of program `name`: searched in $PATH, then the sbin and bin folders; `name` when
// not found.
std::string FindProgram(const std::string& name);

// Runs argv[0] (FindProgram) and waits; Unavailable only when it could not start.
farm::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv);
// RunCommand, and Internal naming the command and its output unless it exited 0.
farm::Status RunChecked(const std::vector<std::string>& argv);

// What Create needs from the machine. `code` is kNotFound when `ip` or `nft` is missing
// (set-up installs them), kFailedPrecondition when the kernel refuses namespaces (EPERM: not
// root, no CAP_SYS_ADMIN, a sandbox); the message says which.
farm::Status CheckNetnsSupport();

class NetnsLab {
 public:
  static farm::StatusOr<std::unique_ptr<NetnsLab>> Create(int agents);
  ~NetnsLab();
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  int agents() const { return agents_; }
  const std::string& farmd_ns() const { return farmd_ns_; }
  std::string agent_ns(int index) const;  // index 1..agents
  static std::string farmd_address() { return "10.77.0.1"; }
  static std::string agent_address(int index) { return "10.77.0." + std::to_string(10 + index); }

  // argv run inside namespace `ns` (`ip netns exec NS ...`: the program is exec'd in place,
  // so the pid of a child started with it is the program's).
  static std::vector<std::string> In(const std::string& ns, std::vector<std::string> argv);

  // Partitions: agent `index`'s link down (the kernel sees the carrier go; connects fail at
  // once) or up again; or, silently like a dead switch, every packet between it and the rest
  // dropped by nftables where it arrives (connections hang until timeouts notice).
  farm::Status SetAgentLink(int index, bool up);
  farm::Status SetAgentBlackhole(int index, bool on);
  // `percent` of the packets each namespace receives on its links (not loopback) dropped at
  // random (nftables `numgen random`: this kernel has no netem), in every namespace.
  farm::Status SetPacketLoss(int percent);
  // Packets the loss rules dropped so far, over every namespace (their nft counters).
  farm::StatusOr<std::int64_t> PacketsDropped() const;

  std::vector<std::string> all_namespaces() const;

 private:
  NetnsLab() = default;
  farm::Status Build();
  void Destroy();

  int agents_ = 0;
  std::string prefix_;
  std::string farmd_ns_;
  std::vector<std::string> created_;  // namespaces to delete, in creation order
};

// Removes namespaces named "sfnet<pid>-*" whose pid is not alive (a crashed earlier run),
// with the processes still in them.
void RemoveLeftoverNamespaces();

// Kills every process inside namespace `ns` (`ip netns pids`) with SIGKILL.
void KillProcessesIn(const std::string& ns);

// While alive, the calling thread's network namespace is `ns`: sockets it opens belong
// there (farmd's HTTP API on 127.0.0.1 inside farmd's namespace). Restores the previous one.
class ScopedNetns {
 public:
  static farm::StatusOr<std::unique_ptr<ScopedNetns>> Enter(const std::string& ns);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

 private:
  explicit ScopedNetns(int previous) : previous_(previous) {}
  int previous_;
};

// The calling thread joins `ns` for good (a helper thread serving inside the lab).
farm::Status JoinNetns(const std::string& ns);

}  // namespace farm_netns
