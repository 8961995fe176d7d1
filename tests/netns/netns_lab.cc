#include "netns_lab.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

extern char** environ;

namespace farm_netns {
namespace {

constexpr char kPrefix[] = "sfnet";
constexpr char kLossTable[] = "sfloss";
constexpr char kPartitionTable[] = "sfpart";

std::string Join(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// The pid in "sfnet<pid>-...", or -1.
pid_t OwnerPid(const std::string& name) {
  if (name.rfind(kPrefix, 0) != 0) return -1;
  const std::size_t dash = name.find('-');
  if (dash == std::string::npos || dash == sizeof(kPrefix) - 1) return -1;
  const std::string digits = name.substr(sizeof(kPrefix) - 1, dash - (sizeof(kPrefix) - 1));
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return static_cast<pid_t>(std::stol(digits));
}

std::vector<std::string> ListNamespaces() {
  std::vector<std::string> names;
  auto listed = RunCommand({"ip", "netns", "list"});
  if (!listed.ok() || listed->exit_code != 0) return names;
  for (const std::string& line : Lines(listed->output)) {
    const std::string name = line.substr(0, line.find(' '));  // "NAME (id: N)"
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

void DeleteNamespace(const std::string& ns) {
  KillProcessesIn(ns);
  (void)RunCommand({"ip", "netns", "del", ns});
}

}  // namespace

std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* env = std::getenv("PATH");
  // ip and nft live in sbin, which a non-root PATH often lacks.
  const std::string path = std::string(env ? env : "") + ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
}

farm::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return farm::Unavailable("pipe: " + std::string(std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const std::string program = FindProgram(argv[0]);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned =
      ::posix_spawn(&pid, program.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    return farm::Unavailable("cannot run '" + argv[0] + "': " + std::strerror(spawned));
  }
  CommandResult result;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(out[0], buffer, sizeof(buffer));
    if (n > 0) {
      result.output.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

farm::Status RunChecked(const std::vector<std::string>& argv) {
  FARM_ASSIGN_OR_RETURN(CommandResult result, RunCommand(argv));
  if (result.exit_code == 0) return farm::Status::Ok();
  return farm::Internal("'" + Join(argv) + "' exited " + std::to_string(result.exit_code) + ": " +
                        result.output);
}

farm::Status CheckNetnsSupport() {
  auto ip = RunCommand({"ip", "-V"});
  if (!ip.ok() || ip->exit_code != 0) {
    return farm::NotFound("`ip` (iproute2) is not installed; tools/setup.sh installs it");
  }
  auto nft = RunCommand({"nft", "--version"});
  if (!nft.ok() || nft->exit_code != 0) {
    return farm::NotFound("`nft` (nftables) is not installed; tools/setup.sh installs it");
  }
  const std::string probe = kPrefix + std::to_string(::getpid()) + "-probe";
  auto added = RunCommand({"ip", "netns", "add", probe});
  if (!added.ok() || added->exit_code != 0) {
    return farm::FailedPrecondition("`ip netns add` refused (not root, no CAP_SYS_ADMIN, or a "
                                    "kernel without network namespaces): " +
                                    (added.ok() ? added->output : added.status().ToString()));
  }
  auto nft_inside = RunCommand(NetnsLab::In(probe, {"nft", "list", "ruleset"}));
  (void)RunCommand({"ip", "netns", "del", probe});
  if (!nft_inside.ok() || nft_inside->exit_code != 0) {
    return farm::FailedPrecondition("nftables refused inside a network namespace: " +
                                    (nft_inside.ok() ? nft_inside->output
                                                     : nft_inside.status().ToString()));
  }
  return farm::Status::Ok();
}

void KillProcessesIn(const std::string& ns) {
  auto pids = RunCommand({"ip", "netns", "pids", ns});
  if (!pids.ok() || pids->exit_code != 0) return;
  for (const std::string& line : Lines(pids->output)) {
    if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(line));
    if (pid > 1 && pid != ::getpid()) ::kill(pid, SIGKILL);
  }
}

void RemoveLeftoverNamespaces() {
  for (const std::string& ns : ListNamespaces()) {
    const pid_t owner = OwnerPid(ns);
    if (owner <= 0 || owner == ::getpid()) continue;
    if (::kill(owner, 0) == 0 || errno != ESRCH) continue;  // that run is still going
    DeleteNamespace(ns);
  }
}

std::vector<std::string> NetnsLab::In(const std::string& ns, std::vector<std::string> argv) {
  if (!argv.empty()) argv[0] = FindProgram(argv[0]);  // ip's own PATH search may lack sbin
  argv.insert(argv.begin(), {FindProgram("ip"), "netns", "exec", ns});
  return argv;
}

std::string NetnsLab::agent_ns(int index) const { return prefix_ + "-a" + std::to_string(index); }

std::vector<std::string> NetnsLab::all_namespaces() const {
  std::vector<std::string> all = {farmd_ns_};
  for (int i = 1; i <= agents_; ++i) all.push_back(agent_ns(i));
  return all;
}

farm::StatusOr<std::unique_ptr<NetnsLab>> NetnsLab::Create(int agents) {
  RemoveLeftoverNamespaces();
  std::unique_ptr<NetnsLab> lab(new NetnsLab());
  lab->agents_ = agents;
  lab->prefix_ = kPrefix + std::to_string(::getpid());
  lab->farmd_ns_ = lab->prefix_ + "-farmd";
  // A namespace of this pid left by an earlier lab of this process that failed half way.
  for (const std::string& ns : lab->all_namespaces()) {
    (void)RunCommand({"ip", "netns", "del", ns});
  }
  farm::Status built = lab->Build();
  if (!built.ok()) return built.WithContext("network namespace lab");
  return lab;
}

farm::Status NetnsLab::Build() {
  auto add_ns = [this](const std::string& ns) -> farm::Status {
    FARM_RETURN_IF_ERROR(RunChecked({"ip", "netns", "add", ns}));
    created_.push_back(ns);
    return RunChecked({"ip", "-n", ns, "link", "set", "lo", "up"});
  };
  FARM_RETURN_IF_ERROR(add_ns(farmd_ns_));
  FARM_RETURN_IF_ERROR(RunChecked({"ip", "-n", farmd_ns_, "link", "add", "br0", "type", "bridge"}));
  FARM_RETURN_IF_ERROR(
      RunChecked({"ip", "-n", farmd_ns_, "addr", "add", farmd_address() + "/24", "dev", "br0"}));
  FARM_RETURN_IF_ERROR(RunChecked({"ip", "-n", farmd_ns_, "link", "set", "br0", "up"}));
  for (int i = 1; i <= agents_; ++i) {
    const std::string ns = agent_ns(i);
    const std::string port = "va" + std::to_string(i);
    FARM_RETURN_IF_ERROR(add_ns(ns));
    // Both ends made directly inside their namespaces: no name in the test's namespace.
    FARM_RETURN_IF_ERROR(RunChecked({"ip", "link", "add", "eth0", "netns", ns, "type", "veth",
                                     "peer", "name", port, "netns", farmd_ns_}));
    FARM_RETURN_IF_ERROR(RunChecked({"ip", "-n", farmd_ns_, "link", "set", port, "master", "br0"}));
    FARM_RETURN_IF_ERROR(RunChecked({"ip", "-n", farmd_ns_, "link", "set", port, "up"}));
    FARM_RETURN_IF_ERROR(
        RunChecked({"ip", "-n", ns, "addr", "add", agent_address(i) + "/24", "dev", "eth0"}));
    FARM_RETURN_IF_ERROR(RunChecked({"ip", "-n", ns, "link", "set", "eth0", "up"}));
  }
  return farm::Status::Ok();
}

NetnsLab::~NetnsLab() { Destroy(); }

void NetnsLab::Destroy() {
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) DeleteNamespace(*it);
  created_.clear();
}

farm::Status NetnsLab::SetAgentLink(int index, bool up) {
  return RunChecked({"ip", "-n", agent_ns(index), "link", "set", "eth0", up ? "up" : "down"});
}

farm::Status NetnsLab::SetAgentBlackhole(int index, bool on) {
  // Dropped where packets arrive (agent side, and farmd's side for this agent's address),
  // never on output: a local drop makes the sender's socket calls fail, which no real
  // partition does.
  const std::string table = std::string("inet ") + kPartitionTable + std::to_string(index);
  const std::string agent = agent_ns(index);
  if (!on) {
    FARM_RETURN_IF_ERROR(RunChecked(In(agent, {"nft", "delete table " + table})));
    return RunChecked(In(farmd_ns_, {"nft", "delete table " + table}));
  }
  const std::string chain = " in { type filter hook input priority -10 ; }";
  FARM_RETURN_IF_ERROR(RunChecked(In(agent, {"nft", "add table " + table})));
  FARM_RETURN_IF_ERROR(RunChecked(In(agent, {"nft", "add chain " + table + chain})));
  FARM_RETURN_IF_ERROR(RunChecked(In(agent, {"nft", "add rule " + table + " in iifname != \"lo\" drop"})));
  FARM_RETURN_IF_ERROR(RunChecked(In(farmd_ns_, {"nft", "add table " + table})));
  FARM_RETURN_IF_ERROR(RunChecked(In(farmd_ns_, {"nft", "add chain " + table + chain})));
  return RunChecked(
      In(farmd_ns_, {"nft", "add rule " + table + " in ip saddr " + agent_address(index) + " drop"}));
}

farm::Status NetnsLab::SetPacketLoss(int percent) {
  const std::string table = std::string("inet ") + kLossTable;
  for (const std::string& ns : all_namespaces()) {
    (void)RunCommand(In(ns, {"nft", "delete table " + table}));  // absent the first time
    if (percent <= 0) continue;
    FARM_RETURN_IF_ERROR(RunChecked(In(ns, {"nft", "add table " + table})));
    FARM_RETURN_IF_ERROR(RunChecked(
        In(ns, {"nft", "add chain " + table + " in { type filter hook input priority 0 ; }"})));
    FARM_RETURN_IF_ERROR(RunChecked(
        In(ns, {"nft", "add rule " + table + " in iifname != \"lo\" numgen random mod 100 < " +
                           std::to_string(percent) + " counter drop"})));
  }
  return farm::Status::Ok();
}

farm::StatusOr<std::int64_t> NetnsLab::PacketsDropped() const {
  std::int64_t dropped = 0;
  for (const std::string& ns : all_namespaces()) {
    FARM_ASSIGN_OR_RETURN(CommandResult listed,
                          RunCommand(In(ns, {"nft", "list", "table", "inet", kLossTable})));
    if (listed.exit_code != 0) return farm::NotFound("no loss rule in " + ns + ": " + listed.output);
    const std::size_t at = listed.output.find("counter packets ");
    if (at == std::string::npos) return farm::DataLoss("no counter in " + ns + ": " + listed.output);
    dropped += std::stoll(listed.output.substr(at + std::strlen("counter packets ")));
  }
  return dropped;
}

farm::StatusOr<std::unique_ptr<ScopedNetns>> ScopedNetns::Enter(const std::string& ns) {
  const int previous = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (previous < 0) return farm::Unavailable("open /proc/thread-self/ns/net: " + std::string(std::strerror(errno)));
  farm::Status joined = JoinNetns(ns);
  if (!joined.ok()) {
    ::close(previous);
    return joined;
  }
  return std::unique_ptr<ScopedNetns>(new ScopedNetns(previous));
}

ScopedNetns::~ScopedNetns() {
  if (::setns(previous_, CLONE_NEWNET) != 0) std::abort();  // the thread would stay in the lab
  ::close(previous_);
}

farm::Status JoinNetns(const std::string& ns) {
  const std::string path = "/run/netns/" + ns;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return farm::NotFound("open " + path + ": " + std::strerror(errno));
  const int joined = ::setns(fd, CLONE_NEWNET);
  const int error = errno;
  ::close(fd);
  if (joined != 0) return farm::Unavailable("setns " + path + ": " + std::strerror(error));
  return farm::Status::Ok();
}

}  // namespace farm_netns
