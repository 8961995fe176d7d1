// Runs a command line through the shell for the farmctl tests, as a user or script would.
#pragma once

#include <string>

namespace farmctl_test {

struct CliRun {
  int exit_code = -1;  // -1 when the command could not start or was killed by a signal
  std::string out;     // what it wrote to stdout (and stderr, when the command merges it)
};

CliRun Shell(const std::string& command);

}  // namespace farmctl_test
