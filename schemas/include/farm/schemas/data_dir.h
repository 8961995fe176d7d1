// Where the farm's data folders (farm_configs, poses) are for a running program: an
// installed tree (`cmake --install`) keeps them in <prefix>/share/studiofarm next to
// <prefix>/bin; a build tree uses the source folder compiled in. Standard library only.
#pragma once

#include <string>

namespace farm {

// This process's executable (/proc/self/exe); "" when it cannot be read.
std::string SelfExecutable();

// <dir of `self_exe`>/../share/studiofarm/<name> when that folder exists, else `built_in`
// (the source tree's folder compiled in; may be ""). `self_exe` defaults to this process's
// executable (/proc/self/exe).
std::string DataDir(const std::string& name, const std::string& built_in,
                    const std::string& self_exe = "");

}  // namespace farm
