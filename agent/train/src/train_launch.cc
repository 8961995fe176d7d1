#include "farm/agent/train_launch.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace farm::agent {

std::vector<std::string> LaunchCommand(const LaunchRequest& r) {
  if (r.ranks <= 1) return r.train_args;
  std::vector<std::string> cmd;
  if (r.slurm) {
    cmd = {"srun", "-n", std::to_string(r.ranks)};
  } else {
    cmd = {r.mpirun, "-np", std::to_string(r.ranks), "--bind-to", "none"};
    if (!r.hostfile.empty()) {
      cmd.push_back("--hostfile");
      cmd.push_back(r.hostfile);
    } else if (r.ranks > std::max(1, r.cores)) {
      cmd.push_back("--oversubscribe");
    }
    if (r.root) cmd.push_back("--allow-run-as-root");
  }
  cmd.insert(cmd.end(), r.train_args.begin(), r.train_args.end());
  return cmd;
}

std::string FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t colon = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, colon - start) + "/" + name;
    if (colon > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = colon + 1;
  }
  return "";
}

std::string Hostfile(const std::vector<std::string>& rank_hosts) {
  std::vector<std::pair<std::string, int>> counts;
  for (const std::string& host : rank_hosts) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == host; });
    if (it == counts.end()) {
      counts.emplace_back(host, 1);
    } else {
      ++it->second;
    }
  }
  std::string text;
  for (const auto& [host, slots] : counts) text += host + " slots=" + std::to_string(slots) + "\n";
  return text;
}

}  // namespace farm::agent
