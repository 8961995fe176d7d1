// Clients farmd must not admit: a farm-agent with a CURVE key missing from the allow
// list, and one that speaks plaintext (no CURVE). Both keep trying for the whole sweep;
// neither may register or hold a lease, while an admitted agent completes the sweep.
#include <gtest/gtest.h>

#include "fault_test.h"
#include "test_farm_util.h"

namespace farm_faults {
namespace {

using std::chrono::seconds;

constexpr int kJobs = 300;

using UntrustedClientTest = FaultTest;

TEST_F(UntrustedClientTest, UnknownKeyAndPlaintextAgentsNeverGetAJob) {
  auto farm = TestFarm::Create(dir_, {.allowed_agents = 1});
  ASSERT_TRUE(farm.ok()) << farm.status().ToString();
  TestFarm& f = **farm;
  ASSERT_TRUE(f.StartFarmd().ok());
  auto unknown = f.StartAgentWithUnknownKey("intruder", 4);
  ASSERT_TRUE(unknown.ok()) << unknown.status().ToString();
  ASSERT_TRUE(f.StartAgentWith("plaintext", {"--id", "plaintext", "--slots", "4"}).ok());

  // Work is queued before the admitted agent exists: an intruder would get it first.
  auto sweep = f.SubmitSweep(kJobs, 1);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString() << f.LogTails();
  // Both were refused before the admitted agent starts.
  std::string metrics;
  EXPECT_TRUE(f.WaitForAuthRefusals(2, seconds(30), &metrics)) << metrics << f.LogTails();
  ASSERT_TRUE(f.StartAgent(1, 2).ok());

  auto counts = f.WaitForSweep(*sweep, seconds(90));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->succeeded, kJobs);

  // farmd's own view: only the admitted agent ever registered.
  auto agents = f.ApiGet("/api/v1/agents");
  ASSERT_TRUE(agents.ok()) << agents.status().ToString();
  std::vector<std::string> ids;
  for (const auto& agent : agents->value("agents", nlohmann::json::array())) {
    ids.push_back(agent.value("id", ""));
  }
  EXPECT_EQ(ids, std::vector<std::string>{"agent-1"}) << agents->dump();
  // The refusals were logged, the unknown key by name.
  const std::string log = farm::TailOfFile(f.farmd_log(), 1000);
  EXPECT_NE(log.find("refused unknown agent key " + *unknown), std::string::npos)
      << log;
  EXPECT_TRUE(log.find("does not speak CURVE") != std::string::npos ||
              log.find("hung up during the CURVE handshake") != std::string::npos)
      << log;
  // The intruders are still running, still refused: they were never let in.
  EXPECT_TRUE(f.FarmdRunning());
  f.StopAll();

  // And on disk: no agent row, no attempt, for either of them.
  auto db = FarmDb::OpenReadOnly(f.database());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto agent_rows = (*db)->Texts("SELECT id FROM agents");
  ASSERT_TRUE(agent_rows.ok()) << agent_rows.status().ToString();
  EXPECT_EQ(*agent_rows, std::set<std::string>{"agent-1"});
  auto foreign = (*db)->Count("SELECT count(*) FROM attempts WHERE agent_id <> 'agent-1'");
  ASSERT_TRUE(foreign.ok()) << foreign.status().ToString();
  EXPECT_EQ(*foreign, 0);
  ExpectEveryJobDoneOnce(f.database(), *sweep, kJobs);
  ExpectOneArtifactPerJob(f.database(), f.artifact_root(), kJobs);
}

}  // namespace
}  // namespace farm_faults
