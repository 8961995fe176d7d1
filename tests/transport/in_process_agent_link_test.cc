// The in-process fake against the shared AgentLink suite, plus what only the fake offers.
#include "farm/transport/in_process_agent_link.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "agent_link_suite.h"

namespace farm::transport::testing {
namespace {

class FakeAgent final : public TestAgent {
 public:
  explicit FakeAgent(std::unique_ptr<FakeAgentEnd> end) : end_(std::move(end)) {}
  Status Send(const Envelope& envelope) override { return end_->Send(envelope); }
  Status SendRaw(const std::string& frame) override { return end_->SendRaw(frame); }
  std::optional<Envelope> Receive(milliseconds timeout) override { return end_->Receive(timeout); }
  void Close() override { end_->Disconnect(); }

 private:
  std::unique_ptr<FakeAgentEnd> end_;
};

struct FakeHarness {
  std::unique_ptr<AgentLink> MakeLink(const LinkLimits& limits) {
    auto link = std::make_unique<InProcessAgentLink>(limits);
    link_ = link.get();
    return link;
  }
  std::unique_ptr<TestAgent> Connect(const std::string& id) {
    return std::make_unique<FakeAgent>(link_->Connect(id));
  }
  InProcessAgentLink* link_ = nullptr;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(InProcess, AgentLinkSuite, ::testing::Types<FakeHarness>);

namespace {

TEST(InProcessAgentLinkTest, HandedOverEndCannotSend) {
  InProcessAgentLink link;
  auto first = link.Connect("a");
  auto second = link.Connect("a");
  EXPECT_FALSE(first->connected());
  EXPECT_TRUE(second->connected());
  EXPECT_EQ(first->Send(Numbered(1)).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(second->Send(Numbered(2)).ok());
  // The old end going away must not disconnect the new one.
  first.reset();
  EXPECT_TRUE(link.Send("a", Numbered(3)).ok());
}

TEST(InProcessAgentLinkTest, FullInboundQueueRefusesTheAgent) {
  LinkLimits limits;
  limits.receive_high_water_mark = 2;
  InProcessAgentLink link(limits);
  auto agent = link.Connect("a");
  EXPECT_TRUE(agent->Send(Numbered(1)).ok());
  EXPECT_TRUE(agent->Send(Numbered(2)).ok());
  EXPECT_EQ(agent->Send(Numbered(3)).code(), StatusCode::kUnavailable);
  EXPECT_EQ(link.Receive(milliseconds(0), 10)->size(), 2u);
  EXPECT_TRUE(agent->Send(Numbered(4)).ok());
}

TEST(InProcessAgentLinkTest, EndOutlivingTheLinkIsDisconnected) {
  auto link = std::make_unique<InProcessAgentLink>();
  auto agent = link->Connect("a");
  link.reset();
  EXPECT_EQ(agent->Send(Numbered(1)).code(), StatusCode::kUnavailable);
  EXPECT_FALSE(agent->Receive(milliseconds(10)).has_value());
}

// farmd's loop on this thread, agents on others: an echo server must answer every agent.
TEST(InProcessAgentLinkTest, LoopAndAgentsOnSeparateThreads) {
  InProcessAgentLink link;
  constexpr int kAgents = 8;
  constexpr int kMessages = 200;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int a = 0; a < kAgents; ++a) {
    threads.emplace_back([&, end = link.Connect("agent-" + std::to_string(a))] {
      for (int i = 0; i < kMessages; ++i) {
        if (!end->Send(Numbered(i)).ok()) return;
        auto reply = end->Receive(kWait);
        if (!reply || reply->sequence() != static_cast<std::uint64_t>(i)) return;
        ++answered;
      }
    });
  }
  int echoed = 0;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (echoed < kAgents * kMessages && std::chrono::steady_clock::now() < deadline) {
    auto batch = link.Receive(milliseconds(50), 64);
    ASSERT_TRUE(batch.ok());
    for (const Inbound& in : *batch) {
      ASSERT_TRUE(link.Send(in.peer, in.envelope).ok());
      ++echoed;
    }
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(answered.load(), kAgents * kMessages);
  EXPECT_EQ(link.stats().received, static_cast<std::uint64_t>(kAgents * kMessages));
}

}  // namespace
}  // namespace farm::transport::testing
