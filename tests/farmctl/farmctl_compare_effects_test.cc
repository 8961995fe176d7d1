// farmctl effects and compare on a database filled through the store: the numbers in their
// --json output against values worked out by hand, the pairing they state, seeded
// reproducibility and a refused filter (exit 2).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "farm/store/store.h"
#include "scored_sweep_fixture.h"
#include "shell_run.h"

namespace {

using farmctl_test::CliRun;
using farmctl_test::Quote;
using farmctl_test::ScoredRender;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;
constexpr double kTol = 1e-9;

//   row  cfg  sampler   pose   score (sweep "base")   score (sweep "again")
//   0    5    Euler     front  0.40                   0.45
//   1    5    DPM++ 2M  front  0.60                   0.65
//   2    7    Euler     front  0.50                   0.55
//   3    7    DPM++ 2M  side   0.70                   0.75
//   4    10   Euler     side   0.30                   0.35
//   5    10   DPM++ 2M  side   no face                no face
// Everything else is the same in every row (seed 42, one prompt, ...).
std::vector<ScoredRender> Renders(double shift) {
  const double cfg[] = {5, 5, 7, 7, 10, 10};
  const char* sampler[] = {"Euler", "DPM++ 2M", "Euler", "DPM++ 2M", "Euler", "DPM++ 2M"};
  const char* pose[] = {"front", "front", "front", "side", "side", "side"};
  const double score[] = {0.40, 0.60, 0.50, 0.70, 0.30, -1};
  std::vector<ScoredRender> out;
  for (int i = 0; i < 6; ++i) {
    ScoredRender r;
    r.params = farmctl_test::BaseRender();
    r.params.cfg = cfg[i];
    r.params.sampler = sampler[i];
    r.params.pose = pose[i];
    if (score[i] >= 0) r.score = score[i] + shift;
    out.push_back(r);
  }
  return out;
}

class FarmctlCompareEffectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "farmctl_effects_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/farm.db";
    auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadWrite);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto base = farmctl_test::AddScoredSweep(**store, "base", Renders(0.0));
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    // The same six records evaluated again (shared renders, this sweep's own scores).
    auto again = farmctl_test::AddScoredSweep(**store, "again", Renders(0.05));
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    base_ = *base;
    again_ = *again;
  }

  json Run(const std::string& args) {
    const CliRun run = Shell(kFarmctl + " " + args + " --db " + Quote(db_) + " --json 2>&1");
    EXPECT_EQ(run.exit_code, 0) << args << "\n" << run.out;
    return farmctl_test::ParseOrFail(run);
  }

  static const json& Parameter(const json& out, const std::string& name) {
    for (const json& p : out["parameters"]) {
      if (p["name"] == name) return p;
    }
    ADD_FAILURE() << "no parameter " << name << " in " << out.dump();
    static const json kNull;
    return kNull;
  }

  std::string dir_;
  std::string db_;
  std::int64_t base_ = 0;
  std::int64_t again_ = 0;
};

TEST_F(FarmctlCompareEffectsTest, EffectsMarginalMeansAndRanking) {
  const json out = Run("effects " + std::to_string(base_));
  EXPECT_EQ(out["renders"], 6);
  EXPECT_EQ(out["scored"], 5);
  EXPECT_NEAR(out["mean_score"].get<double>(), 0.50, kTol);  // 2.5 / 5
  EXPECT_EQ(out["effect_size"], "eta_squared");
  // SS_total = 0.01+0.01+0+0.04+0.04 = 0.10.
  // sampler: Euler 1.2/3 = 0.40, DPM++ 2M 1.3/2 = 0.65; SS_b = 3*0.01 + 2*0.0225 = 0.075 -> 0.75
  // cfg: 5 -> 0.50, 7 -> 0.60, 10 -> 0.30; SS_b = 0 + 2*0.01 + 0.04 = 0.06 -> 0.60
  // pose: front (0.4+0.6+0.5)/3 = 0.50, side (0.7+0.3)/2 = 0.50 -> 0
  ASSERT_EQ(out["parameters"].size(), 3u) << out.dump(2);
  EXPECT_EQ(out["parameters"][0]["name"], "sampler");
  EXPECT_EQ(out["parameters"][1]["name"], "cfg");
  EXPECT_EQ(out["parameters"][2]["name"], "pose");
  EXPECT_NEAR(out["parameters"][0]["eta_squared"].get<double>(), 0.75, kTol);
  EXPECT_NEAR(out["parameters"][1]["eta_squared"].get<double>(), 0.60, kTol);
  EXPECT_NEAR(out["parameters"][2]["eta_squared"].get<double>(), 0.0, kTol);
  EXPECT_NEAR(out["parameters"][1]["range"].get<double>(), 0.30, kTol);

  const json& cfg = Parameter(out, "cfg");
  ASSERT_EQ(cfg["levels"].size(), 3u);
  EXPECT_EQ(cfg["levels"][0]["value"], "5");  // numeric order: 5, 7, 10
  EXPECT_EQ(cfg["levels"][2]["value"], "10");
  EXPECT_NEAR(cfg["levels"][0]["mean"].get<double>(), 0.50, kTol);
  EXPECT_NEAR(cfg["levels"][1]["mean"].get<double>(), 0.60, kTol);
  EXPECT_NEAR(cfg["levels"][2]["mean"].get<double>(), 0.30, kTol);
  EXPECT_EQ(cfg["levels"][2]["renders"], 2);
  EXPECT_EQ(cfg["levels"][2]["n"], 1);
  EXPECT_TRUE(cfg["levels"][2]["ci"].is_null());  // one scored render: no interval
  // Two scores 0.4 and 0.6: resampled means are 0.4, 0.5 or 0.6, so the 95 % ends are 0.4 and 0.6.
  EXPECT_NEAR(cfg["levels"][0]["ci"][0].get<double>(), 0.40, kTol);
  EXPECT_NEAR(cfg["levels"][0]["ci"][1].get<double>(), 0.60, kTol);

  // Constant parameters are listed, not ranked.
  bool seed_constant = false;
  for (const json& c : out["constant"]) seed_constant |= c["name"] == "seed" && c["value"] == "42";
  EXPECT_TRUE(seed_constant) << out["constant"].dump();
  EXPECT_TRUE(out["two_way"].is_null());

  // Pose success at 0.5: front 0.4 / 0.6 / 0.5 -> 2 of 3; side 0.7 / 0.3 / no face -> 1 of 3.
  ASSERT_EQ(out["pose_success"].size(), 2u);
  EXPECT_EQ(out["pose_success"][0]["pose"], "front");
  EXPECT_EQ(out["pose_success"][0]["successes"], 2);
  EXPECT_EQ(out["pose_success"][0]["n"], 3);
  EXPECT_EQ(out["pose_success"][1]["successes"], 1);
  // Wilson 1 of 3 at 95 %: [0.061492, 0.792340].
  EXPECT_NEAR(out["pose_success"][1]["ci"][0].get<double>(), 0.061492, 5e-6);
  EXPECT_NEAR(out["pose_success"][1]["ci"][1].get<double>(), 0.792340, 5e-6);
}

TEST_F(FarmctlCompareEffectsTest, EffectsTwoWayTableForTwoParameters) {
  const json out = Run("effects " + std::to_string(base_) + " --by cfg,sampler --threshold 0.65");
  ASSERT_EQ(out["parameters"].size(), 2u);
  const json& table = out["two_way"];
  EXPECT_EQ(table["rows"], "cfg");
  EXPECT_EQ(table["columns"], "sampler");
  EXPECT_EQ(table["row_values"], json({"5", "7", "10"}));
  EXPECT_EQ(table["column_values"], json({"DPM++ 2M", "Euler"}));
  EXPECT_NEAR(table["cells"][0][0]["mean"].get<double>(), 0.60, kTol);  // cfg 5, DPM++ 2M
  EXPECT_NEAR(table["cells"][0][1]["mean"].get<double>(), 0.40, kTol);  // cfg 5, Euler
  EXPECT_NEAR(table["cells"][1][0]["mean"].get<double>(), 0.70, kTol);
  EXPECT_NEAR(table["cells"][2][1]["mean"].get<double>(), 0.30, kTol);
  EXPECT_EQ(table["cells"][2][0]["n"], 0);  // cfg 10, DPM++ 2M found no face
  EXPECT_TRUE(table["cells"][2][0]["mean"].is_null());
  // Success at 0.65: only 0.70 (side) -> front 0 of 3, side 1 of 3.
  EXPECT_EQ(out["pose_success"][0]["successes"], 0);
  EXPECT_EQ(out["pose_success"][1]["successes"], 1);
}

TEST_F(FarmctlCompareEffectsTest, CompareSameRendersPairsOnParamHash) {
  const json out = Run("compare " + std::to_string(base_) + " " + std::to_string(again_));
  // A: (0.4+0.6+0.5+0.7+0.3)/5 = 0.50; B: every score + 0.05 = 0.55.
  EXPECT_EQ(out["a"]["renders"], 6);
  EXPECT_NEAR(out["a"]["score"]["mean"].get<double>(), 0.50, kTol);
  EXPECT_NEAR(out["b"]["score"]["mean"].get<double>(), 0.55, kTol);
  EXPECT_NEAR(out["delta"]["value"].get<double>(), 0.05, kTol);
  EXPECT_TRUE(out["delta"]["ci"][0].get<double>() < 0.0);  // unpaired: spread of 0.3..0.7 hides it
  // Face found: 5 of 6 on each side, Wilson 95 % [0.436497, 0.969947].
  EXPECT_EQ(out["a"]["face_found"]["successes"], 5);
  EXPECT_EQ(out["a"]["face_found"]["n"], 6);
  EXPECT_NEAR(out["a"]["face_found"]["ci"][0].get<double>(), 0.436497, 5e-6);
  EXPECT_NEAR(out["a"]["face_found"]["ci"][1].get<double>(), 0.969947, 5e-6);
  // Nothing differs between the sides but the evaluation: paired on param_hash, every pair
  // differs by exactly 0.05, so the paired interval is [0.05, 0.05].
  EXPECT_EQ(out["pairing"]["by_param_hash"], true);
  EXPECT_EQ(out["pairing"]["on"], json({"param_hash"}));
  ASSERT_FALSE(out["paired"].is_null());
  EXPECT_EQ(out["paired"]["pairs"], 5);
  EXPECT_EQ(out["paired"]["unscored_pairs"], 1);
  EXPECT_EQ(out["paired"]["unpaired_a"], 0);
  EXPECT_NEAR(out["paired"]["delta"].get<double>(), 0.05, kTol);
  EXPECT_NEAR(out["paired"]["ci"][0].get<double>(), 0.05, 1e-9);
  EXPECT_NEAR(out["paired"]["ci"][1].get<double>(), 0.05, 1e-9);
}

TEST_F(FarmctlCompareEffectsTest, CompareFiltersPairOnWhatDoesNotDiffer) {
  const json out = Run("compare --sweep " + std::to_string(base_) +
                       " \"sampler = 'Euler'\" \"sampler = 'DPM++ 2M'\"");
  // A (Euler): 0.4, 0.5, 0.3 -> 0.40; B (DPM++ 2M): 0.6, 0.7, no face -> 0.65; delta 0.25.
  EXPECT_NEAR(out["a"]["score"]["mean"].get<double>(), 0.40, kTol);
  EXPECT_NEAR(out["b"]["score"]["mean"].get<double>(), 0.65, kTol);
  EXPECT_NEAR(out["delta"]["value"].get<double>(), 0.25, kTol);
  EXPECT_EQ(out["b"]["face_found"]["successes"], 2);
  EXPECT_EQ(out["b"]["face_found"]["n"], 3);
  // Only sampler differs; cfg and pose sets are equal on both sides, so pairs share them.
  EXPECT_EQ(out["pairing"]["differ"], json({"sampler"}));
  EXPECT_EQ(out["pairing"]["by_param_hash"], false);
  // Keys (cfg, pose): A 5/front, 7/front, 10/side; B 5/front, 7/side, 10/side.
  // 5/front pairs (0.4 -> 0.6), 10/side pairs without a B score; 7 pairs with nothing.
  ASSERT_FALSE(out["paired"].is_null());
  EXPECT_EQ(out["paired"]["pairs"], 1);
  EXPECT_EQ(out["paired"]["unscored_pairs"], 1);
  EXPECT_EQ(out["paired"]["unpaired_a"], 1);
  EXPECT_EQ(out["paired"]["unpaired_b"], 1);
  EXPECT_NEAR(out["paired"]["delta"].get<double>(), 0.20, kTol);
  EXPECT_TRUE(out["paired"]["ci"].is_null());  // one pair: no interval
}

TEST_F(FarmctlCompareEffectsTest, CompareIsReproducibleForASeed) {
  const std::string args = "compare " + std::to_string(base_) + " " + std::to_string(again_);
  const json first = Run(args + " --seed 5");
  const json again = Run(args + " --seed 5");
  const json other = Run(args + " --seed 6");
  EXPECT_EQ(first["delta"]["ci"], again["delta"]["ci"]);
  EXPECT_EQ(first["a"]["score"]["ci"], again["a"]["score"]["ci"]);
  EXPECT_NE(first["delta"]["ci"], other["delta"]["ci"]);
}

TEST_F(FarmctlCompareEffectsTest, TextOutputNamesThePairing) {
  const CliRun run = Shell(kFarmctl + " compare " + std::to_string(base_) + " " + std::to_string(again_) +
                           " --db " + Quote(db_) + " 2>&1");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("paired on param_hash"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("5 pairs"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("delta B - A: +0.050"), std::string::npos) << run.out;
}

TEST_F(FarmctlCompareEffectsTest, BadFilterIsAUsageError) {
  const CliRun run = Shell(kFarmctl + " compare --sweep " + std::to_string(base_) +
                           " \"smapler = 'Euler'\" 2 --db " + Quote(db_) + " 2>&1");
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_NE(run.out.find("sampler"), std::string::npos) << run.out;  // the suggestion
  EXPECT_NE(run.out.find("^"), std::string::npos) << run.out;
  const CliRun effects = Shell(kFarmctl + " effects " + std::to_string(base_) + " --by cfgg --db " +
                               Quote(db_) + " 2>&1");
  EXPECT_EQ(effects.exit_code, 2) << effects.out;
}

}  // namespace
