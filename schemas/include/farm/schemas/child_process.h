// A child process its parent starts and owns (farmctl: farmd and agents; farm-agent:
// farm-train ranks): fork/exec into its own process group (so a terminal's Ctrl-C reaches
// the parent only, which then shuts the children down in order, and stopping the child
// stops everything it started), stdout through a pipe or into a log file, stderr into a
// log file. Linux: the child also gets SIGTERM should the parent die without cleaning up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm {

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0] is the executable's path
  // true: stdout is a pipe read with ReadLine; false: stdout goes to log_path too.
  bool pipe_stdout = false;
  std::string log_path;  // stderr (and stdout unless piped); appended to, created 0600
};

class ChildProcess {
 public:
  // Unavailable when fork fails; NotFound when the executable does not exist.
  static StatusOr<ChildProcess> Start(const ChildOptions& options);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Stops the child (Stop with a short grace) if it is still running.
  ~ChildProcess();

  // One line of the piped stdout, without the newline. TimedOut after `timeout`;
  // Unavailable when the child closed stdout (usually: it exited).
  StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout);

  // True while the child has not exited (reaps it when it has).
  bool Running();
  // The exit status as the shell shows it (128+signal), once the child exited.
  std::optional<int> exit_code() const { return exit_code_; }

  // SIGTERM to the child's process group, then SIGKILL after `grace`; waits for it.
  // Returns the exit code. Safe to call more than once.
  int Stop(std::chrono::milliseconds grace);

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

 private:
  ChildProcess() = default;
  void Reap(int wait_status);

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;  // stdout bytes read past the last line
  std::string log_path_;
  std::optional<int> exit_code_;
};

// The last `max_lines` lines of a text file (for error messages); empty if unreadable.
std::string TailOfFile(const std::string& path, int max_lines);

}  // namespace farm
