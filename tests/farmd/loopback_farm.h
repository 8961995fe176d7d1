// A real farmd loop (Coordinator on the ZeroMQ link, plaintext loopback, SystemClock, a
// temp database) on its own thread, and real agents (farm_agent_core) on theirs: the
// whole wire path in one process, for tests of agent <-> farmd exchanges.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "farm/agent/agent.h"
#include "farm/farmd/coordinator.h"
#include "farm/scheduler/clock.h"
#include "farm/store/store.h"
#include "farm/sweep/resolver.h"
#include "farm/transport/zmq_agent_link.h"

namespace farm::farmd::testing {

class LoopbackFarm {
 public:
  explicit LoopbackFarm(std::filesystem::path dir);
  ~LoopbackFarm();  // stops the agents, then farmd

  // Runs `task` on farmd's loop thread (where the Coordinator and Store live) and waits.
  void Call(const std::function<void(Coordinator&)>& task);

  StatusOr<SubmitResult> Submit(const std::string& yaml, sweep::SpecResolver& resolver);

  // Starts an agent on its own thread; `runners` and the fetcher stay alive with it.
  void StartAgent(const std::string& id, std::unique_ptr<agent::RunnerRegistry> runners,
                  std::shared_ptr<agent::ArtifactFetcher> fetcher, std::uint32_t slots = 1);

  // Waits until no job of the sweep is queued or leased; false after `timeout`.
  bool WaitForSweep(std::int64_t sweep_id, std::chrono::milliseconds timeout);

  const std::filesystem::path& artifact_root() const { return artifact_root_; }

 private:
  struct RunningAgent {
    std::unique_ptr<agent::RunnerRegistry> runners;
    std::unique_ptr<agent::Agent> agent;
    std::unique_ptr<std::atomic<bool>> stop;
    std::thread thread;
  };

  std::filesystem::path dir_;
  std::filesystem::path artifact_root_;
  scheduler::SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<transport::AgentLink> link_;
  std::unique_ptr<Coordinator> coordinator_;
  std::atomic<bool> stop_{false};
  std::thread loop_;
  std::vector<RunningAgent> agents_;
};

}  // namespace farm::farmd::testing
