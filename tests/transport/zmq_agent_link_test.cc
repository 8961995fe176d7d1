// The ZeroMQ link (plaintext, loopback) against the shared AgentLink suite, plus wire
// abuse that only a real socket can see.
#include "farm/transport/zmq_agent_link.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include "agent_link_suite.h"
#include "zmq_test_agent.h"

namespace farm::transport::testing {
namespace {

struct ZmqHarness {
  std::unique_ptr<AgentLink> MakeLink(const LinkLimits& limits) {
    ZmqLinkOptions options;
    options.curve = false;
    options.limits = limits;
    auto link = ListenForAgents(options);
    EXPECT_TRUE(link.ok()) << link.status().ToString();
    endpoint_ = (*link)->endpoint();
    return std::move(link).value();
  }
  std::unique_ptr<TestAgent> Connect(const std::string& id) {
    return std::make_unique<ZmqTestAgent>(context_, endpoint_, id);
  }
  zmq::context_t context_;
  std::string endpoint_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Zmq, AgentLinkSuite, ::testing::Types<ZmqHarness>);

namespace {

std::unique_ptr<AgentLink> PlainLink() {
  ZmqLinkOptions options;
  options.curve = false;
  options.limits.max_frame_bytes = kTestMaxFrame;
  auto link = ListenForAgents(options);
  EXPECT_TRUE(link.ok()) << link.status().ToString();
  return link.ok() ? std::move(link).value() : nullptr;
}

TEST(ZmqAgentLinkTest, PortZeroResolvesToARealPort) {
  auto link = PlainLink();
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->endpoint().rfind("tcp://127.0.0.1:", 0), 0u) << link->endpoint();
  EXPECT_EQ(link->endpoint().find(":0", 10), std::string::npos) << link->endpoint();
}

TEST(ZmqAgentLinkTest, BadEndpointIsUnavailable) {
  ZmqLinkOptions options;
  options.curve = false;
  options.endpoint = "tcp://256.1.1.1:1";
  auto link = ListenForAgents(options);
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.status().code(), StatusCode::kUnavailable);
}

TEST(ZmqAgentLinkTest, MultipartFramesAreDroppedAndCounted) {
  auto link = PlainLink();
  ASSERT_NE(link, nullptr);
  zmq::context_t context;
  ZmqTestAgent agent(context, link->endpoint(), "a");
  const std::string good = Numbered(1).SerializeAsString();
  agent.socket().send(zmq::buffer(good), zmq::send_flags::sndmore);
  agent.socket().send(zmq::buffer(good), zmq::send_flags::none);
  ASSERT_TRUE(agent.Send(Numbered(2)).ok());
  auto got = ReceiveAtLeast(*link, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].envelope.sequence(), 2u);
  EXPECT_EQ(link->stats().dropped_malformed, 1u);
}

TEST(ZmqAgentLinkTest, HugeFrameCutsOnlyThatConnection) {
  auto link = PlainLink();
  ASSERT_NE(link, nullptr);
  zmq::context_t context;
  ZmqTestAgent bully(context, link->endpoint(), "bully");
  ZmqTestAgent good(context, link->endpoint(), "good");
  ASSERT_TRUE(bully.SendRaw(std::string(3 * kTestMaxFrame, 'x')).ok());
  ASSERT_TRUE(good.Send(Numbered(5)).ok());
  auto got = ReceiveAtLeast(*link, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].peer, "good");
}

// Bytes that are not ZMTP at all: the link must survive and keep serving agents.
TEST(ZmqAgentLinkTest, RandomBytesOnTheWireDoNotHurt) {
  auto link = PlainLink();
  ASSERT_NE(link, nullptr);
  const std::string endpoint = link->endpoint();
  const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    std::string junk(1 + rng() % 4096, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (round % 2 == 0) junk[0] = '\xff';  // looks like a ZMTP signature start
    (void)!::write(fd, junk.data(), junk.size());
    ::close(fd);
  }
  zmq::context_t context;
  ZmqTestAgent agent(context, link->endpoint(), "a");
  ASSERT_TRUE(agent.Send(Numbered(9)).ok());
  auto got = ReceiveAtLeast(*link, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].envelope.sequence(), 9u);
}

}  // namespace
}  // namespace farm::transport::testing
