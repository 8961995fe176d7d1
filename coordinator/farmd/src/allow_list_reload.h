// SIGHUP re-reads farmd's allow-list of agent keys: a new agent is admitted and a removed
// one cut off without restarting farmd. The signal handler only sets a flag; a small
// thread notices it, reads the file, and hands the keys to the loop thread (the link is
// used from there only). A file that cannot be read or parsed keeps the current list.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "farm/farmd/coordinator.h"
#include "farm/transport/agent_link.h"

namespace farm::farmd {

class AllowListReloader {
 public:
  // Installs the SIGHUP handler and starts the watching thread. `coordinator` and `link`
  // must outlive the reloader.
  AllowListReloader(std::string allow_keys_file, Coordinator& coordinator,
                    transport::AgentLink& link);
  ~AllowListReloader();  // stops and joins the thread; SIGHUP is ignored afterwards

  AllowListReloader(const AllowListReloader&) = delete;
  AllowListReloader& operator=(const AllowListReloader&) = delete;

 private:
  void Watch();
  void Reload();

  const std::string file_;
  Coordinator& coordinator_;
  transport::AgentLink& link_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace farm::farmd
