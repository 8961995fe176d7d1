// One test suite for every AgentLink (EXAMPLES.md #2): the in-process fake and the ZeroMQ
// link must behave the same, so farmd's loop tested against the fake holds on the wire.
//
// A harness type H provides:
//   std::unique_ptr<AgentLink> MakeLink(const LinkLimits&);  // called once per test
//   std::unique_ptr<TestAgent> Connect(const std::string& agent_id);
// Instantiate with INSTANTIATE_TYPED_TEST_SUITE_P(Name, AgentLinkSuite, Types<H>).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent_link_test_util.h"

namespace farm::transport::testing {

template <typename Harness>
class AgentLinkSuite : public ::testing::Test {
 protected:
  AgentLink& Link(LinkLimits limits = DefaultLimits()) {
    if (!link_) link_ = harness_.MakeLink(limits);
    return *link_;
  }
  static LinkLimits DefaultLimits() {
    LinkLimits limits;
    limits.max_frame_bytes = kTestMaxFrame;
    return limits;
  }
  // Connects `id` and has it say hello, so the link knows the peer (agents speak first).
  std::unique_ptr<TestAgent> ConnectAndRegister(const std::string& id, std::uint64_t seq = 0) {
    auto agent = harness_.Connect(id);
    EXPECT_TRUE(agent->Send(Numbered(seq)).ok());
    auto got = ReceiveAtLeast(*link_, 1);
    EXPECT_EQ(got.size(), 1u);
    if (!got.empty()) {
      EXPECT_EQ(got[0].peer, id);
    }
    return agent;
  }

  Harness harness_;
  std::unique_ptr<AgentLink> link_;
};

TYPED_TEST_SUITE_P(AgentLinkSuite);

TYPED_TEST_P(AgentLinkSuite, RoundTrip) {
  AgentLink& link = this->Link();
  auto agent = this->harness_.Connect("agent-1");
  ASSERT_TRUE(agent->Send(Numbered(7)).ok());
  auto got = ReceiveAtLeast(link, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].peer, "agent-1");
  EXPECT_EQ(got[0].envelope.sequence(), 7u);
  EXPECT_TRUE(got[0].envelope.has_heartbeat());

  ASSERT_TRUE(link.Send("agent-1", Numbered(8)).ok());
  auto reply = agent->Receive(kWait);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sequence(), 8u);
  EXPECT_EQ(link.stats().received, 1u);
  EXPECT_EQ(link.stats().sent, 1u);
  EXPECT_FALSE(link.endpoint().empty());
}

TYPED_TEST_P(AgentLinkSuite, ReceiveTimesOutEmpty) {
  AgentLink& link = this->Link();
  const auto start = std::chrono::steady_clock::now();
  auto got = link.Receive(milliseconds(100), 10);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(90));
}

TYPED_TEST_P(AgentLinkSuite, ManyPeersEachGetTheirOwnReplies) {
  AgentLink& link = this->Link();
  constexpr int kAgents = 20;
  std::vector<std::unique_ptr<TestAgent>> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.push_back(this->harness_.Connect("agent-" + std::to_string(i)));
    ASSERT_TRUE(agents.back()->Send(Numbered(i)).ok());
  }
  auto got = ReceiveAtLeast(link, kAgents);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kAgents));
  for (const Inbound& in : got) {
    EXPECT_EQ(in.peer, "agent-" + std::to_string(in.envelope.sequence()));
  }
  // max_messages bounds one batch.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(agents[0]->Send(Numbered(100 + i)).ok());
  std::size_t total = 0;
  for (int round = 0; round < 100 && total < 5; ++round) {
    auto batch = link.Receive(milliseconds(50), 2);
    ASSERT_TRUE(batch.ok());
    EXPECT_LE(batch->size(), 2u);
    total += batch->size();
  }
  EXPECT_EQ(total, 5u);

  for (int i = 0; i < kAgents; ++i) {
    ASSERT_TRUE(link.Send("agent-" + std::to_string(i), Numbered(1000 + i)).ok());
  }
  for (int i = 0; i < kAgents; ++i) {
    auto reply = agents[i]->Receive(kWait);
    ASSERT_TRUE(reply.has_value()) << "agent " << i;
    EXPECT_EQ(reply->sequence(), static_cast<std::uint64_t>(1000 + i));
  }
}

TYPED_TEST_P(AgentLinkSuite, SendToUnknownOrGonePeerIsUnavailable) {
  AgentLink& link = this->Link();
  Status unknown = link.Send("nobody", Numbered(1));
  EXPECT_EQ(unknown.code(), StatusCode::kUnavailable);
  EXPECT_EQ(link.stats().send_unroutable, 1u);

  auto agent = this->ConnectAndRegister("leaver");
  ASSERT_TRUE(link.Send("leaver", Numbered(2)).ok());
  agent->Close();
  EXPECT_TRUE(Eventually([&] { return !link.Send("leaver", Numbered(3)).ok(); }));
  EXPECT_EQ(link.Send("leaver", Numbered(4)).code(), StatusCode::kUnavailable);
  EXPECT_GE(link.stats().send_unroutable, 2u);
}

TYPED_TEST_P(AgentLinkSuite, BadFramesAreDroppedAndCountedGoodTrafficContinues) {
  AgentLink& link = this->Link();
  auto agent = this->harness_.Connect("agent-1");
  ASSERT_TRUE(agent->Send(Numbered(1)).ok());
  ASSERT_TRUE(agent->SendRaw(std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11))
                  .ok());  // an unterminated varint: never a valid Envelope
  ASSERT_TRUE(agent->SendRaw(Numbered(99, kTestMaxFrame).SerializeAsString()).ok());
  ASSERT_TRUE(agent->Send(Numbered(2)).ok());

  auto got = ReceiveAtLeast(link, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].envelope.sequence(), 1u);
  EXPECT_EQ(got[1].envelope.sequence(), 2u);
  EXPECT_EQ(link.stats().dropped_malformed, 2u);
  EXPECT_EQ(link.stats().received, 2u);
  auto more = link.Receive(kQuiet, 10);
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more->empty());

  // The agent keeps its connection.
  ASSERT_TRUE(link.Send("agent-1", Numbered(3)).ok());
  auto reply = agent->Receive(kWait);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sequence(), 3u);
}

TYPED_TEST_P(AgentLinkSuite, SendingAnOversizedMessageIsInvalidArgument) {
  AgentLink& link = this->Link();
  auto agent = this->ConnectAndRegister("agent-1");
  EXPECT_EQ(link.Send("agent-1", Numbered(1, kTestMaxFrame)).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(link.Send("agent-1", Numbered(2)).ok());
  auto reply = agent->Receive(kWait);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sequence(), 2u);
}

TYPED_TEST_P(AgentLinkSuite, ZeroMaxMessagesReturnsNothing) {
  AgentLink& link = this->Link();
  auto agent = this->harness_.Connect("agent-1");
  ASSERT_TRUE(agent->Send(Numbered(1)).ok());
  auto none = link.Receive(milliseconds(50), 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(ReceiveAtLeast(link, 1).size(), 1u);  // still queued
}

TYPED_TEST_P(AgentLinkSuite, ReconnectWithSameIdTakesOver) {
  AgentLink& link = this->Link();
  auto first = this->ConnectAndRegister("agent-1", 1);
  auto second = this->ConnectAndRegister("agent-1", 2);
  ASSERT_TRUE(link.Send("agent-1", Numbered(3)).ok());
  auto reply = second->Receive(kWait);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sequence(), 3u);
  EXPECT_FALSE(first->Receive(kQuiet).has_value());
}

TYPED_TEST_P(AgentLinkSuite, FullQueueIsUnavailableNeverASilentDrop) {
  LinkLimits limits = this->DefaultLimits();
  limits.send_high_water_mark = 4;
  AgentLink& link = this->Link(limits);
  auto agent = this->ConnectAndRegister("slow");

  // The agent reads nothing; sooner or later (socket buffers) the queue is full.
  constexpr int kMaxSends = 4000;
  int accepted = 0;
  Status last;
  for (; accepted < kMaxSends; ++accepted) {
    last = link.Send("slow", Numbered(accepted, 256 << 10));
    if (!last.ok()) break;
  }
  ASSERT_LT(accepted, kMaxSends) << "the queue never filled";
  EXPECT_GE(accepted, 1);
  EXPECT_EQ(last.code(), StatusCode::kUnavailable);
  EXPECT_NE(last.message().find("queue full"), std::string::npos) << last.message();
  EXPECT_GE(link.stats().send_full, 1u);
  EXPECT_EQ(link.stats().send_unroutable, 0u);

  // Every accepted message arrives, in order.
  for (int i = 0; i < accepted; ++i) {
    auto got = agent->Receive(kWait);
    ASSERT_TRUE(got.has_value()) << "lost message " << i << " of " << accepted;
    EXPECT_EQ(got->sequence(), static_cast<std::uint64_t>(i));
  }
  EXPECT_FALSE(agent->Receive(kQuiet).has_value());
  // Once drained, sending works again.
  EXPECT_TRUE(Eventually([&] { return link.Send("slow", Numbered(1)).ok(); }));
}

REGISTER_TYPED_TEST_SUITE_P(AgentLinkSuite, RoundTrip, ReceiveTimesOutEmpty,
                            ManyPeersEachGetTheirOwnReplies, SendToUnknownOrGonePeerIsUnavailable,
                            BadFramesAreDroppedAndCountedGoodTrafficContinues,
                            SendingAnOversizedMessageIsInvalidArgument,
                            ZeroMaxMessagesReturnsNothing, ReconnectWithSameIdTakesOver,
                            FullQueueIsUnavailableNeverASilentDrop);

}  // namespace farm::transport::testing
