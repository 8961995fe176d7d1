// docs/operations.md against the programs, without namespaces (so it runs everywhere): its
// config block is farm_configs/cluster.example.yaml, and every flag of its farmd and
// farm-agent units is one the program's --help lists.
#include <gtest/gtest.h>

#include "netns_lab.h"
#include "ops_doc.h"

namespace farm_netns {
namespace {

void ExpectFlagsInHelp(const Flags& flags, const std::string& program) {
  auto help = RunCommand({program, "--help"});
  ASSERT_TRUE(help.ok()) << help.status().ToString();
  ASSERT_EQ(help->exit_code, 0) << help->output;
  for (const auto& [flag, value] : flags) {
    EXPECT_NE(help->output.find(flag + " "), std::string::npos)
        << "docs/operations.md runs " << program << " with " << flag << ", which --help lacks";
  }
}

TEST(OpsDocTest, DocumentShowsTheClusterConfigAndFlagsTheProgramsHave) {
  auto doc = ReadOpsDoc(FARM_SOURCE_DIR "/docs/operations.md",
                        FARM_SOURCE_DIR "/farm_configs/cluster.example.yaml");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_GE(doc->key_commands.size(), 2u);
  EXPECT_FALSE(doc->farmd_flags.empty());
  EXPECT_FALSE(doc->agent_flags.empty());
  ExpectFlagsInHelp(doc->farmd_flags, FARMD_PATH);
  ExpectFlagsInHelp(doc->agent_flags, FARM_AGENT_PATH);
}

TEST(OpsDocTest, OverridesMustNameDocumentedFlags) {
  const Flags flags = {{"--id", "%H"}, {"--slots", "1"}, {"--verbose", ""}};
  auto argv = FlagsWith(flags, {{"--slots", "4"}});
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_EQ(*argv, (std::vector<std::string>{"--id", "%H", "--slots", "4", "--verbose"}));
  auto renamed = FlagsWith(flags, {{"--workers", "4"}});
  EXPECT_EQ(renamed.status().code(), farm::StatusCode::kInvalidArgument);
  EXPECT_NE(renamed.status().message().find("--workers"), std::string::npos);
}

}  // namespace
}  // namespace farm_netns
