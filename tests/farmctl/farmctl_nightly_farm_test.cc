// farmctl nightly through the local farm, as the nightly job runs it: the tiny model's
// portrait spec evaluated twice. The second evaluation renders every record again as new
// jobs (nothing is shared with the first), draws the same pixels (CPU, same records), and
// passes against the first, which became last-good. The tiny model draws no face, so the
// scores are NULL on both sides; farmctl_nightly_test covers the score arithmetic.
// Skips without the face-api models and demo photos, or without the render commands.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "farm/store/store.h"
#include "shell_run.h"
#include "tiny_farm_dir.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::ParseOrFail;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
const std::string kAgent = FARM_AGENT_PATH;

TEST(FarmctlNightlyFarmTest, SecondEvaluationRendersAgainAndPassesAgainstTheFirst) {
  const CliRun help = Shell(kAgent + " --help 2>&1");
  if (help.out.find("make-tiny-model") == std::string::npos) {
    GTEST_SKIP() << "farm-agent was built without the render commands";
  }
  std::string skip;
  auto farm_dir = farmctl_test::MakeTinyFarmDir(kAgent, "farmctl_nightly_farm", "sample1.jpg", &skip);
  if (!farm_dir) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    return;
  }
  const std::string spec = farm_dir->dir + "/eval.yaml";
  std::ofstream(spec) << R"(name: tiny_eval
identity:
  name: demo
  photos: models:/face-api/demo/sample1.jpg
  token: sks person
  pick: largest
checkpoint:
  path: models:/tiny/tiny-sd15.safetensors
render:
  prompt: "studio portrait photo of {token}, {tone}"
  size: 64x64
  steps: 2
  sampler: Euler
  seeds: [1, 2]
grid:
  tone: [warm, cool]
score: {metric: cosine}
nightly: {max_mean_drop: 0.01}
)";
  auto nightly = [&](const std::string& extra = "") {
    return Shell("STUDIOFARM_DB= STUDIOFARM_ENDPOINT= STUDIOFARM_CACHE=" + Quote(farm_dir->dir + "/cache") +
                 " " + kFarmctl + " --models-dir " + Quote(farm_dir->models) + " --db " +
                 Quote(farm_dir->db) + " --json nightly " + Quote(spec) + " --agents 2 " + extra +
                 " 2>" + Quote(farm_dir->dir + "/stderr.log"));
  };
  const CliRun first = nightly();
  ASSERT_EQ(first.exit_code, 0) << first.out;
  const json first_out = ParseOrFail(first);
  EXPECT_EQ(first_out["verdict"], "first");

  const std::string report = farm_dir->dir + "/nightly.html";
  const CliRun second = nightly("--report " + Quote(report));
  ASSERT_EQ(second.exit_code, 0) << second.out;
  const json out = ParseOrFail(second);
  EXPECT_EQ(out["verdict"], "pass") << out.dump(2);
  EXPECT_EQ(out["baseline_sweep_id"], first_out["sweep_id"]);
  const json& evaluation = out["evaluation"];
  EXPECT_EQ(evaluation["renders"]["run"], 4);
  EXPECT_EQ(evaluation["renders"]["run_without_image"], 0);
  EXPECT_EQ(evaluation["pixels"]["compared"], 4);
  EXPECT_EQ(evaluation["pixels"]["changed"], 0);  // same records, same pixels
  EXPECT_EQ(evaluation["pixels"]["method"], "pixels");
  // The evaluation's report beside the verdict.
  ASSERT_TRUE(out.contains("report")) << out.dump(2);
  EXPECT_GT(out["report"]["bytes"].get<std::int64_t>(), 1000);
  EXPECT_TRUE(fs::is_regular_file(report));

  // New jobs rendered the same records: each sweep has its own render jobs and results.
  auto store = farm::store::Store::Open(farm_dir->db, farm::store::OpenMode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto rows = (*store)->Select(
      "SELECT count(DISTINCT rr.job_id), count(DISTINCT rr.render_id), count(*) FROM render_results rr",
      {});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(std::get<std::int64_t>(rows->rows[0][0]), 8);  // 4 renders x 2 evaluations
  EXPECT_EQ(std::get<std::int64_t>(rows->rows[0][1]), 4);
  EXPECT_EQ(std::get<std::int64_t>(rows->rows[0][2]), 8);
  auto good = (*store)->GetLastGoodNightly("tiny_eval");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->sweep_id, out["sweep_id"].get<std::int64_t>());
  std::error_code ignored;
  fs::remove_all(farm_dir->dir, ignored);
}

}  // namespace
