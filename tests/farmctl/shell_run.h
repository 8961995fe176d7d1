// Runs a command line through the shell for the command-line tests (farmctl, farm-agent),
// as a user or script would, and reads back what it wrote.
#pragma once

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <string>
#include <vector>

namespace farmctl_test {

struct CliRun {
  int exit_code = -1;  // -1 when the command could not start or was killed by a signal
  std::string out;     // what it wrote to stdout (and stderr, when the command merges it)
};

CliRun Shell(const std::string& command);

// The whole file (empty when it cannot be read), e.g. to compare two written images.
std::string FileBytes(const std::string& path);

// `s` in single quotes, for paths in a command line (the tests' paths have no quotes).
std::string Quote(const std::string& s);

// The run's stdout as JSON; a test failure (and a discarded value) when it is not JSON.
nlohmann::json ParseOrFail(const CliRun& run);

// Starts args[0] (a path) with args, stdout onto `stdout_fd` (when >= 0) and stderr into
// the file `log_path`, without a shell. The child's pid, or -1 when it could not start;
// the caller reaps it.
pid_t SpawnWithLog(std::vector<std::string> args, int stdout_fd, const std::string& log_path);

}  // namespace farmctl_test
