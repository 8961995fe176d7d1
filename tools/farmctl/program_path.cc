#include "program_path.h"

#include <filesystem>
#include <system_error>

#include "farm/schemas/data_dir.h"

#ifndef FARMCTL_AGENT_PATH
#define FARMCTL_AGENT_PATH ""
#endif

namespace farmctl {

namespace fs = std::filesystem;

std::string FindProgram(const std::string& flag, const char* built, const char* name) {
  if (!flag.empty()) return flag;
  std::error_code ec;
  if (*built && fs::exists(built, ec)) return built;
  const fs::path self = farm::SelfExecutable();
  if (!self.empty() && fs::exists(self.parent_path() / name, ec)) {
    return (self.parent_path() / name).string();
  }
  return *built ? built : name;
}

std::string FindAgentProgram(const std::string& flag) {
  return FindProgram(flag, FARMCTL_AGENT_PATH, "farm-agent");
}

}  // namespace farmctl
