// RunnerRegistry, and the CURVE key helpers the agent's main() relies on.
#include <gtest/gtest.h>

#include "farm/agent/agent.h"
#include "farm/agent/synthetic_runner.h"

namespace farm::agent {
namespace {

TEST(RunnerRegistryTest, FindsRegisteredKindsOnly) {
  RunnerRegistry registry;
  ASSERT_TRUE(registry.Register(std::make_unique<SyntheticRunner>()).ok());
  EXPECT_NE(registry.Find(studiofarm::v1::JOB_KIND_SYNTHETIC), nullptr);
  EXPECT_EQ(registry.Find(studiofarm::v1::JOB_KIND_RENDER), nullptr);
  EXPECT_EQ(registry.kinds(),
            std::vector<studiofarm::v1::JobKind>{studiofarm::v1::JOB_KIND_SYNTHETIC});
}

TEST(RunnerRegistryTest, RefusesDuplicatesAndNull) {
  RunnerRegistry registry;
  ASSERT_TRUE(registry.Register(std::make_unique<SyntheticRunner>()).ok());
  Status duplicate = registry.Register(std::make_unique<SyntheticRunner>());
  EXPECT_EQ(duplicate.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(duplicate.message().find("JOB_KIND_SYNTHETIC"), std::string::npos);
  EXPECT_EQ(registry.Register(nullptr).code(), StatusCode::kInvalidArgument);
}

TEST(CurveKeysTest, ParsesGeneratedPair) {
  StatusOr<CurveKeyPair> generated = GenerateCurveKeyPair();
  ASSERT_TRUE(generated.ok()) << generated.status().ToString();
  const std::string text =
      "# agent key\npublic: " + generated->public_key + "\nsecret: " + generated->secret_key + "\n";
  StatusOr<CurveKeyPair> parsed = ParseCurveKeyPair(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->public_key, generated->public_key);
  EXPECT_EQ(parsed->secret_key, generated->secret_key);
}

TEST(CurveKeysTest, RefusesMalformedFiles) {
  StatusOr<CurveKeyPair> generated = GenerateCurveKeyPair();
  ASSERT_TRUE(generated.ok());
  EXPECT_FALSE(ParseCurveKeyPair("public: " + generated->public_key + "\n").ok());
  StatusOr<CurveKeyPair> short_key = ParseCurveKeyPair("public: abc\nsecret: abc\n");
  ASSERT_FALSE(short_key.ok());
  EXPECT_NE(short_key.status().message().find("line 1"), std::string::npos);
  EXPECT_FALSE(ParseCurveKeyPair("private: " + generated->secret_key + "\n").ok());
  EXPECT_FALSE(ValidateZ85Key(std::string(40, '"')).ok());
}

TEST(AgentCreateTest, RefusesBadOptions) {
  RunnerRegistry registry;
  AgentOptions options;
  options.endpoint = "tcp://127.0.0.1:1";
  options.agent_id = "a";
  EXPECT_TRUE(Agent::Create(options, &registry).ok());
  AgentOptions no_slots = options;
  no_slots.slots = 0;
  EXPECT_EQ(Agent::Create(no_slots, &registry).status().code(), StatusCode::kInvalidArgument);
  AgentOptions bad_key = options;
  bad_key.server_public_key = "short";
  EXPECT_EQ(Agent::Create(bad_key, &registry).status().code(), StatusCode::kInvalidArgument);
  AgentOptions no_id = options;
  no_id.agent_id.clear();
  EXPECT_EQ(Agent::Create(no_id, &registry).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace farm::agent
