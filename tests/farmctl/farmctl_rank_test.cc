// farmctl rank SWEEP_ID on a database filled through the store: order by metric (cosine
// descending, euclidean ascending), NULL scores after the scored renders with their reason,
// unscored renders last, --identity choice, --limit and the --json fields.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;

using farmctl_test::Quote;
class FarmctlRankTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "farmctl_rank_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/farm.db";
    auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadWrite);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto sweep = (*store)->CreateSweep({"portraits", "", 0, {}});
    auto other = (*store)->CreateSweep({"other", "", 0, {}});
    ASSERT_TRUE(sweep.ok() && other.ok());
    sweep_ = sweep->sweep_id;
    ana_ = *(*store)->CreateIdentity({"ana", "sks person", {}});
    bo_ = *(*store)->CreateIdentity({"bo", "sks person", {}});

    std::vector<farm::store::NewRender> rows;
    for (int i = 0; i < 5; ++i) {
      farm::store::NewRender row;
      row.params.prompt = "portrait";
      row.params.seed = 100 + i;
      row.params.sampler = i % 2 ? "Euler a" : "DPM++ 2M";
      row.params.scheduler = "karras";
      row.params.cfg = 5 + i;
      row.params.clip_skip = 1 + i % 2;
      row.params.pose = i == 0 ? "" : "front";
      row.params.tone = i == 1 ? "warm" : "";
      row.params.checkpoint_sha256 = farm::Sha256Hex("ckpt");
      row.sweep_id = i < 4 ? sweep_ : other->sweep_id;  // render 5 is another sweep's
      rows.push_back(row);
    }
    auto renders = (*store)->InsertRenders(rows);
    ASSERT_TRUE(renders.ok()) << renders.status().ToString();
    for (const auto& r : *renders) ids_.push_back(r.id);
    // r0: cos 0.5 / euc 0.7; r1: no face (NULL); r2: cos 0.9 / euc 0.3; r3: not scored.
    // r4 (other sweep) would top the ranking. An old model version of r0 is superseded.
    auto scores = (*store)->InsertScores({
        {ids_[0], ana_, 0, "cosine", "m1", 0.99, 1, ""},
        {ids_[0], ana_, 0, "cosine", "m2", 0.5, 1, ""},
        {ids_[0], ana_, 0, "euclidean", "m2", 0.7, 1, ""},
        {ids_[1], ana_, 0, "cosine", "m2", std::nullopt, 0, "no face found"},
        {ids_[1], ana_, 0, "euclidean", "m2", std::nullopt, 0, "no face found"},
        {ids_[2], ana_, 0, "cosine", "m2", 0.9, 2, ""},
        {ids_[2], ana_, 0, "euclidean", "m2", 0.3, 2, ""},
        {ids_[4], ana_, 0, "cosine", "m2", 1.0, 1, ""},
    });
    ASSERT_TRUE(scores.ok()) << scores.status().ToString();
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  CliRun Rank(const std::string& args) {
    return Shell(kFarmctl + " rank " + args + " --db " + Quote(db_) + " 2>&1");
  }
  json RankJson(const std::string& args) {
    const CliRun run = Rank(args + " --json");
    EXPECT_EQ(run.exit_code, 0) << run.out;
    json value = json::parse(run.out, nullptr, false);
    EXPECT_FALSE(value.is_discarded()) << run.out;
    return value;
  }
  static std::vector<std::int64_t> Order(const json& answer) {
    std::vector<std::int64_t> order;
    for (const json& row : answer["renders"]) order.push_back(row.value("render_id", 0));
    return order;
  }

  std::string dir_, db_;
  std::int64_t sweep_ = 0, ana_ = 0, bo_ = 0;
  std::vector<std::int64_t> ids_;
};

TEST_F(FarmctlRankTest, CosineDescendingNullsThenUnscoredLast) {
  const json answer = RankJson(std::to_string(sweep_));
  EXPECT_EQ(answer.value("identity", ""), "ana");  // the only identity scored
  EXPECT_EQ(answer.value("metric", ""), "cosine");
  EXPECT_EQ(Order(answer), (std::vector<std::int64_t>{ids_[2], ids_[0], ids_[1], ids_[3]}));
  const json& best = answer["renders"][0];
  EXPECT_EQ(best.value("rank", 0), 1);
  EXPECT_EQ(best.value("seed", 0), 102);
  EXPECT_EQ(best.value("sampler", ""), "DPM++ 2M");
  EXPECT_DOUBLE_EQ(best.value("cfg", 0.0), 7.0);
  EXPECT_EQ(best.value("clip_skip", 0), 1);
  EXPECT_EQ(best.value("pose", ""), "front");
  EXPECT_EQ(best.value("tone", "x"), "");
  EXPECT_DOUBLE_EQ(best.value("similarity", 0.0), 0.9);
  EXPECT_EQ(best.value("faces", 0), 2);
  EXPECT_DOUBLE_EQ(answer["renders"][1].value("similarity", 0.0), 0.5);  // m2, not m1's 0.99
  const json& no_face = answer["renders"][2];
  EXPECT_TRUE(no_face["similarity"].is_null());
  EXPECT_EQ(no_face.value("reason", ""), "no face found");
  EXPECT_EQ(no_face.value("faces", -1), 0);
  EXPECT_EQ(no_face.value("tone", ""), "warm");
  const json& unscored = answer["renders"][3];
  EXPECT_FALSE(unscored.value("scored", true));
  EXPECT_EQ(unscored.value("reason", ""), "not scored");
}

TEST_F(FarmctlRankTest, EuclideanAscendingAndLimit) {
  const json answer = RankJson(std::to_string(sweep_) + " --identity ana --metric euclidean");
  EXPECT_EQ(answer.value("order", ""), "ascending");
  EXPECT_EQ(Order(answer), (std::vector<std::int64_t>{ids_[2], ids_[0], ids_[1], ids_[3]}));
  EXPECT_DOUBLE_EQ(answer["renders"][0].value("similarity", 0.0), 0.3);
  EXPECT_DOUBLE_EQ(answer["renders"][1].value("similarity", 0.0), 0.7);

  const json limited = RankJson(std::to_string(sweep_) + " --limit 2");
  EXPECT_EQ(Order(limited), (std::vector<std::int64_t>{ids_[2], ids_[0]}));
}

TEST_F(FarmctlRankTest, TableShowsColumnsAndReasons) {
  const CliRun run = Rank(std::to_string(sweep_));
  ASSERT_EQ(run.exit_code, 0) << run.out;
  for (const char* column : {"RENDER", "SEED", "SAMPLER", "CFG", "CLIP SKIP", "POSE", "TONE",
                             "SIMILARITY", "FACES"}) {
    EXPECT_NE(run.out.find(column), std::string::npos) << column << "\n" << run.out;
  }
  const auto best = run.out.find("0.9000");
  const auto second = run.out.find("0.5000");
  const auto no_face = run.out.find("(no face found)");
  const auto unscored = run.out.find("(not scored)");
  ASSERT_NE(best, std::string::npos) << run.out;
  EXPECT_LT(best, second);
  EXPECT_LT(second, no_face);
  EXPECT_LT(no_face, unscored);
  EXPECT_EQ(run.out.find("1.0000"), std::string::npos) << "another sweep's render\n" << run.out;
}

TEST_F(FarmctlRankTest, IdentityWithoutScoresAndErrors) {
  // bo has no scores: every render is unscored, in id order.
  const json answer = RankJson(std::to_string(sweep_) + " --identity bo");
  EXPECT_EQ(Order(answer), (std::vector<std::int64_t>{ids_[0], ids_[1], ids_[2], ids_[3]}));
  EXPECT_EQ(Rank(std::to_string(sweep_) + " --identity nobody").exit_code, 1);
  EXPECT_EQ(Rank("999").exit_code, 1);
  EXPECT_EQ(Rank(std::to_string(sweep_) + " --metric manhattan").exit_code, 2);
  EXPECT_EQ(Rank("").exit_code, 2);
}

}  // namespace
