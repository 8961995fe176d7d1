// The embedded farm's defaults from the farm configuration folder's local.yaml
// (`agents.count`, `agents.slots`, `agents.device`, `agents.threads`), used by `farmctl run`
// when the flags are not given.
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farmctl {

inline constexpr int kMaxLocalAgents = 256;
inline constexpr int kMaxAgentSlots = 1024;
inline constexpr int kMaxAgentThreads = 1024;

struct LocalFarmDefaults {
  int agents = 2;  // used when the file or the key is absent
  int slots = 1;
  std::string device = "cpu";  // farm-agent --device: cpu, cuda or cuda:N
  int threads = 1;             // farm-agent --threads: torch intra-op threads per job
};

// Reads `path` (e.g. farm_configs/local.yaml). A missing file or key keeps the built-in
// default; a value that is not an integer in range is InvalidArgument naming the file,
// the line and the expected value.
farm::StatusOr<LocalFarmDefaults> ReadLocalFarmDefaults(const std::string& path);

}  // namespace farmctl
