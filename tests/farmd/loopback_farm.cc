#include "loopback_farm.h"

#include <gtest/gtest.h>

namespace farm::farmd::testing {

LoopbackFarm::LoopbackFarm(std::filesystem::path dir)
    : dir_(std::move(dir)), artifact_root_(dir_ / "artifacts") {
  auto store = store::Store::Open((dir_ / "farm.db").string(), store::OpenMode::kReadWrite);
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return;
  }
  store_ = std::move(*store);
  transport::ZmqLinkOptions link_options;
  link_options.curve = false;  // loopback test
  auto link = transport::ListenForAgents(link_options);
  if (!link.ok()) {
    ADD_FAILURE() << link.status().ToString();
    return;
  }
  link_ = std::move(*link);
  CoordinatorOptions options;
  options.artifact_root = artifact_root_.string();
  options.tick_interval_ms = 10;
  auto coordinator = Coordinator::Create(options, *store_, *link_, clock_);
  if (!coordinator.ok()) {
    ADD_FAILURE() << coordinator.status().ToString();
    return;
  }
  coordinator_ = std::move(*coordinator);
  loop_ = std::thread([this] {
    Status done = coordinator_->Run(stop_);
    EXPECT_TRUE(done.ok()) << done.ToString();
  });
}

LoopbackFarm::~LoopbackFarm() {
  for (RunningAgent& a : agents_) a.stop->store(true);
  for (RunningAgent& a : agents_) {
    if (a.thread.joinable()) a.thread.join();
  }
  agents_.clear();
  stop_.store(true);
  if (loop_.joinable()) loop_.join();
}

void LoopbackFarm::Call(const std::function<void(Coordinator&)>& task) {
  ASSERT_NE(coordinator_, nullptr);
  std::promise<void> done;
  coordinator_->Post([&] {
    task(*coordinator_);
    done.set_value();
  });
  done.get_future().wait();
}

StatusOr<SubmitResult> LoopbackFarm::Submit(const std::string& yaml,
                                            sweep::SpecResolver& resolver) {
  StatusOr<SubmitResult> result = Internal("not run");
  Call([&](Coordinator& c) { result = c.SubmitSweep(yaml, "test.yaml", {}, resolver, {}); });
  return result;
}

void LoopbackFarm::StartAgent(const std::string& id, std::unique_ptr<agent::RunnerRegistry> runners,
                              std::shared_ptr<agent::ArtifactFetcher> fetcher,
                              std::uint32_t slots) {
  agent::AgentOptions options;
  options.endpoint = link_->endpoint();
  options.agent_id = id;
  options.slots = slots;
  options.heartbeat_interval = std::chrono::milliseconds(200);
  options.shutdown_grace = std::chrono::milliseconds(2000);
  options.shutdown_ack_wait = std::chrono::milliseconds(500);
  options.artifact_fetcher = std::move(fetcher);
  RunningAgent running;
  running.runners = std::move(runners);
  auto created = agent::Agent::Create(options, running.runners.get());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  running.agent = std::move(*created);
  running.stop = std::make_unique<std::atomic<bool>>(false);
  agent::Agent* raw = running.agent.get();
  std::atomic<bool>* stop = running.stop.get();
  running.thread = std::thread([raw, stop] {
    Status done = raw->Run(*stop);
    EXPECT_TRUE(done.ok()) << done.ToString();
  });
  agents_.push_back(std::move(running));
}

bool LoopbackFarm::WaitForSweep(std::int64_t sweep_id, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool open = true;
    Call([&](Coordinator& c) {
      auto counts = c.store().CountJobsByState(sweep_id);
      if (!counts.ok()) return;
      open = counts->count(store::JobState::kQueued) != 0 ||
             counts->count(store::JobState::kLeased) != 0;
    });
    if (!open) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace farm::farmd::testing
