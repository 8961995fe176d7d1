// CURVE and the ZAP handler: only listed agent keys get through. Without a ZAP handler
// libzmq admits any CURVE client that knows the server key, so each refusal test would
// fail against a link that forgot it.
#include <gtest/gtest.h>

#include <mutex>

#include "farm/transport/curve_keys.h"
#include "farm/transport/zmq_agent_link.h"
#include "zmq_test_agent.h"

namespace farm::transport::testing {
namespace {

CurveKeyPair NewKeys() {
  auto keys = GenerateCurveKeyPair();
  EXPECT_TRUE(keys.ok()) << keys.status().ToString();
  return *keys;
}

class ZmqCurveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ZmqLinkOptions options;
    options.limits.max_frame_bytes = kTestMaxFrame;
    options.server_secret_key = server_.secret_key;
    options.allowed_client_keys = {allowed_.public_key, NewKeys().public_key};
    options.log = [this](LinkLogLevel, const std::string& line) {
      std::lock_guard lock(mu_);
      log_.push_back(line);
    };
    auto link = ListenForAgents(options);
    ASSERT_TRUE(link.ok()) << link.status().ToString();
    link_ = std::move(link).value();
  }

  DealerOptions CurveClient(const CurveKeyPair& client) const {
    DealerOptions options;
    options.server_public_key = server_.public_key;
    options.public_key = client.public_key;
    options.secret_key = client.secret_key;
    return options;
  }

  std::size_t LogLinesMentioning(const std::string& text) {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const std::string& line : log_) n += line.find(text) != std::string::npos;
    return n;
  }

  // Nothing from a refused client may ever reach farmd.
  void ExpectNothingDelivered() {
    auto got = link_->Receive(milliseconds(2 * kQuiet.count()), 10);
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE(got->empty()) << "a refused client's message was delivered";
    EXPECT_EQ(link_->stats().received, 0u);
  }

  CurveKeyPair server_ = NewKeys();
  CurveKeyPair allowed_ = NewKeys();
  zmq::context_t context_;
  std::unique_ptr<AgentLink> link_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

TEST_F(ZmqCurveTest, AllowedKeyGetsThrough) {
  ZmqTestAgent agent(context_, link_->endpoint(), "agent-1", CurveClient(allowed_));
  ASSERT_TRUE(agent.Send(Numbered(1)).ok());
  auto got = ReceiveAtLeast(*link_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].peer, "agent-1");
  ASSERT_TRUE(link_->Send("agent-1", Numbered(2)).ok());
  auto reply = agent.Receive(kWait);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sequence(), 2u);
  EXPECT_EQ(link_->stats().auth_refused, 0u);
}

TEST_F(ZmqCurveTest, UnknownKeyGetsNothingAndIsLoggedOnce) {
  const CurveKeyPair stranger = NewKeys();
  ZmqTestAgent first(context_, link_->endpoint(), "intruder-1", CurveClient(stranger));
  ZmqTestAgent second(context_, link_->endpoint(), "intruder-2", CurveClient(stranger));
  ASSERT_TRUE(first.Send(Numbered(1)).ok());
  ASSERT_TRUE(second.Send(Numbered(2)).ok());
  EXPECT_TRUE(Eventually([&] { return link_->stats().auth_refused >= 2; }));
  ExpectNothingDelivered();
  EXPECT_EQ(LogLinesMentioning(stranger.public_key), 1u);
  EXPECT_EQ(link_->Send("intruder-1", Numbered(3)).code(), StatusCode::kUnavailable);

  // A listed agent is still served beside them.
  ZmqTestAgent agent(context_, link_->endpoint(), "agent-1", CurveClient(allowed_));
  ASSERT_TRUE(agent.Send(Numbered(4)).ok());
  auto got = ReceiveAtLeast(*link_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].peer, "agent-1");
}

TEST_F(ZmqCurveTest, AReplacedAllowListAdmitsNewKeysAndCutsOffRemovedOnes) {
  ZmqTestAgent old_agent(context_, link_->endpoint(), "agent-1", CurveClient(allowed_));
  ASSERT_TRUE(old_agent.Send(Numbered(1)).ok());
  ASSERT_EQ(ReceiveAtLeast(*link_, 1).size(), 1u);

  const CurveKeyPair newcomer = NewKeys();
  ASSERT_TRUE(link_->ReplaceAllowedClientKeys({newcomer.public_key}).ok());
  ZmqTestAgent new_agent(context_, link_->endpoint(), "agent-2", CurveClient(newcomer));
  ASSERT_TRUE(new_agent.Send(Numbered(2)).ok());
  auto got = ReceiveAtLeast(*link_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].peer, "agent-2");

  // agent-1 is still connected, but its key is gone: dropped, counted, logged once.
  const std::uint64_t refused_before = link_->stats().auth_refused;
  ASSERT_TRUE(old_agent.Send(Numbered(3)).ok());
  ASSERT_TRUE(old_agent.Send(Numbered(4)).ok());
  auto dropped = link_->Receive(milliseconds(2 * kQuiet.count()), 10);
  ASSERT_TRUE(dropped.ok());
  EXPECT_TRUE(dropped->empty()) << "a removed key's message was delivered";
  EXPECT_EQ(link_->stats().auth_refused, refused_before + 2);
  EXPECT_EQ(LogLinesMentioning(allowed_.public_key + ": no longer on the allow-list"), 1u);

  // A bad list changes nothing.
  EXPECT_EQ(link_->ReplaceAllowedClientKeys({}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(link_->ReplaceAllowedClientKeys({"not-a-key"}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(new_agent.Send(Numbered(5)).ok());
  got = ReceiveAtLeast(*link_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].peer, "agent-2");
}

TEST_F(ZmqCurveTest, WrongServerKeyGetsNothing) {
  DealerOptions options = CurveClient(allowed_);
  options.server_public_key = NewKeys().public_key;
  ZmqTestAgent agent(context_, link_->endpoint(), "confused", options);
  ASSERT_TRUE(agent.Send(Numbered(1)).ok());
  ExpectNothingDelivered();
}

TEST_F(ZmqCurveTest, PlaintextClientGetsNothing) {
  ZmqTestAgent agent(context_, link_->endpoint(), "plain");
  ASSERT_TRUE(agent.Send(Numbered(1)).ok());
  EXPECT_TRUE(Eventually([&] { return link_->stats().auth_refused >= 1; }));
  ExpectNothingDelivered();
  EXPECT_GE(LogLinesMentioning("CURVE"), 1u);
}

TEST_F(ZmqCurveTest, PlainMechanismClientGetsNothing) {
  DealerOptions options;
  options.plain_user = "admin";
  ZmqTestAgent agent(context_, link_->endpoint(), "plain-user", options);
  ASSERT_TRUE(agent.Send(Numbered(1)).ok());
  EXPECT_TRUE(Eventually([&] { return link_->stats().auth_refused >= 1; }));
  ExpectNothingDelivered();
}

TEST(ZmqCurveOptionsTest, CurveNeedsKeys) {
  ZmqLinkOptions options;
  auto no_secret = ListenForAgents(options);
  ASSERT_FALSE(no_secret.ok());
  EXPECT_EQ(no_secret.status().code(), StatusCode::kInvalidArgument);

  options.server_secret_key = NewKeys().secret_key;
  auto no_allowed = ListenForAgents(options);
  ASSERT_FALSE(no_allowed.ok());
  EXPECT_EQ(no_allowed.status().code(), StatusCode::kInvalidArgument);

  options.allowed_client_keys = {"not a key"};
  auto bad_allowed = ListenForAgents(options);
  ASSERT_FALSE(bad_allowed.ok());
  EXPECT_NE(bad_allowed.status().message().find("not a key"), std::string::npos);
}

}  // namespace
}  // namespace farm::transport::testing
