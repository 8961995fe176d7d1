#include "shell_run.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace farmctl_test {

CliRun Shell(const std::string& command) {
  CliRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return run;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

nlohmann::json ParseOrFail(const CliRun& run) {
  nlohmann::json value = nlohmann::json::parse(run.out, nullptr, false);
  EXPECT_FALSE(value.is_discarded()) << "not JSON: " << run.out;
  return value;
}

}  // namespace farmctl_test
