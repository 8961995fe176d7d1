// Where farmctl finds the farm's other executables (farmd, farm-agent).
#pragma once

#include <string>

namespace farmctl {

// `flag` when given (--farmd, --agent); else `built` (the path of the same build's binary,
// compiled in as FARMCTL_FARMD_PATH / FARMCTL_AGENT_PATH; may be "") when it exists; else
// `name` next to farmctl's own executable; else `built`, or `name` for a PATH lookup.
std::string FindProgram(const std::string& flag, const char* built, const char* name);

// FindProgram for farm-agent with the build's path compiled in.
std::string FindAgentProgram(const std::string& flag);

}  // namespace farmctl
