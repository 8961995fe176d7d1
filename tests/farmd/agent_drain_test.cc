// Drain requests through the HTTP API: a drained agent finishes its lease and gets no new
// work; the request outlives the agent's reconnect and a farmd restart; resume ends it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "farm/farmd/api.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {

using nlohmann::json;

ApiResponse Post(Coordinator& coordinator, const std::string& target) {
  ApiRequest request;
  request.method = "POST";
  request.target = target;
  return HandleApiRequest(coordinator, ApiOptions{}, request);
}

json PostOk(Coordinator& coordinator, const std::string& target) {
  const ApiResponse response = Post(coordinator, target);
  EXPECT_EQ(response.status, 200) << target << ": " << response.body;
  return json::parse(response.body, nullptr, false);
}

TEST(AgentDrainTest, ADrainedAgentFinishesItsLeaseAndGetsNoNewWorkUntilResumed) {
  TempDir dir;
  Farm farm(dir.path());
  farm.Open();
  farm.Submit(3);
  auto a = farm.Join("a");
  auto offer = farm.Await(*a, v1::Envelope::kJobOffer);
  ASSERT_TRUE(offer.has_value());

  const json drained = PostOk(farm.coordinator(), "/api/v1/agents/a/drain");
  EXPECT_EQ(drained.value("state", ""), "draining") << drained.dump();
  EXPECT_EQ(drained.value("busy_slots", -1), 1) << drained.dump();
  EXPECT_TRUE(drained.value("drain_requested", false));

  farm.Report(*a, offer->job_offer().lease(), v1::RESULT_STATUS_SUCCEEDED, {{"output", "one"}});
  auto ack = farm.Await(*a, v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->result_ack().accepted());
  EXPECT_FALSE(farm.Await(*a, v1::Envelope::kJobOffer, 20).has_value())
      << "a draining agent got new work";
  auto stored = farm.store().GetAgent("a");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, store::AgentState::kDraining);
  EXPECT_TRUE(stored->drain_requested);

  auto b = farm.Join("b");  // the queued jobs go elsewhere
  ASSERT_TRUE(farm.Await(*b, v1::Envelope::kJobOffer).has_value());

  const json resumed = PostOk(farm.coordinator(), "/api/v1/agents/a/resume");
  EXPECT_EQ(resumed.value("state", ""), "online") << resumed.dump();
  EXPECT_FALSE(resumed.value("drain_requested", true));
  EXPECT_TRUE(farm.Await(*a, v1::Envelope::kJobOffer).has_value()) << "resumed agent got no work";
}

TEST(AgentDrainTest, TheRequestOutlivesAReconnectAndAFarmdRestart) {
  TempDir dir;
  Farm farm(dir.path());
  farm.Open();
  auto a = farm.Join("a");
  PostOk(farm.coordinator(), "/api/v1/agents/a/drain");
  farm.Submit(2);

  auto again = farm.Join("a");  // registers anew: still drained
  EXPECT_FALSE(farm.Await(*again, v1::Envelope::kJobOffer, 20).has_value());

  farm.Crash();
  farm.Open();
  auto after_restart = farm.Join("a");
  EXPECT_FALSE(farm.Await(*after_restart, v1::Envelope::kJobOffer, 20).has_value());
  auto info = farm.coordinator().scheduler().GetAgent("a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, scheduler::AgentState::kDraining);

  PostOk(farm.coordinator(), "/api/v1/agents/a/resume");
  EXPECT_TRUE(farm.Await(*after_restart, v1::Envelope::kJobOffer).has_value());
}

TEST(AgentDrainTest, AnOfflineAgentIsDrainedWhenItRegisters) {
  TempDir dir;
  Farm farm(dir.path());
  farm.Open();
  {
    auto a = farm.Join("a");  // known to the database, then gone
  }
  farm.Crash();
  farm.Open();
  PostOk(farm.coordinator(), "/api/v1/agents/a/drain");
  farm.Submit(1);
  auto a = farm.Join("a");
  EXPECT_FALSE(farm.Await(*a, v1::Envelope::kJobOffer, 20).has_value());
}

TEST(AgentDrainTest, UnknownAgentsAndWrongMethodsAreRefused) {
  TempDir dir;
  Farm farm(dir.path());
  farm.Open();
  const ApiResponse unknown = Post(farm.coordinator(), "/api/v1/agents/nobody/drain");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_NE(unknown.body.find("nobody"), std::string::npos) << unknown.body;

  farm.Join("a");
  ApiRequest get;
  get.method = "GET";
  get.target = "/api/v1/agents/a/drain";
  EXPECT_EQ(HandleApiRequest(farm.coordinator(), ApiOptions{}, get).status, 405);
}

}  // namespace
}  // namespace farm::farmd::testing
