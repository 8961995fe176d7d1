// farmctl train show JOB_OR_HASH on a database filled through the store: the run's facts,
// checkpoints with hashes and face-ID scores, the best step, the steps table, --json, and
// clear errors for an unknown job or hash.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "shell_run.h"

namespace {

using farmctl_test::CliRun;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kFarmctl = FARMCTL_PATH;

class FarmctlTrainShowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "farmctl_train_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    db_ = pattern + "/farm.db";
    auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadWrite);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    params_ = json({{"kind", "train"}, {"identity", "ana"}, {"rank", 16}, {"alpha", 8},
                    {"learning_rate", 1e-4}, {"seed", 3}, {"extra", {{"lr_scheduler", "constant"}}}})
                  .dump();
    hash_ = farm::Sha256Hex(params_);
    farm::store::NewSweep sweep{"s", "", 0, {}};
    farm::store::NewJob job;
    job.kind = farm::store::JobKind::kTrain;
    job.params_json = params_;
    job.param_hash = hash_;
    sweep.jobs.push_back(job);
    auto created = (*store)->CreateSweep(sweep);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    job_id_ = created->jobs.job_ids.at(0);

    farm::store::TrainRun run;
    run.job_id = job_id_;
    run.train_param_hash = hash_;
    run.prepare_param_hash = std::string(64, 'd');
    run.dataset_sha256 = std::string(64, 'f');
    run.checkpoint_sha256 = std::string(64, 'a');
    run.world_size = 2;
    run.steps = 1600;
    run.best_step = 800;
    run.params_json = params_;
    run.result_json =
        json({{"checkpoints",
               {{{"step", 800}, {"sha256", std::string(64, '8')}, {"sshs_model_hash", std::string(64, 'm')},
                 {"sshs_legacy_hash", "1234abcd"}, {"saved", true}},
                {{"step", 1600}, {"sha256", std::string(64, '6')}, {"sshs_model_hash", std::string(64, 'n')},
                 {"sshs_legacy_hash", "5678abcd"}, {"saved", true}}}},
              {"validation", {{"scores", {{"800", 0.71}, {"1600", 0.55}}}, {"selection", {{"best_step", 800}}}}}})
            .dump();
    std::vector<farm::store::TrainStep> steps;
    for (int s = 100; s <= 1600; s += 100) steps.push_back({s, 1.0 / s, 1e-4, 5e-5, 0.25});
    ASSERT_TRUE((*store)->RecordTrainRun(run, steps).ok());
  }

  CliRun Show(const std::string& args) {
    return Shell(kFarmctl + " train show " + args + " --db " + Quote(db_) + " 2>&1");
  }

  std::string db_, params_, hash_;
  std::int64_t job_id_ = 0;
};

TEST_F(FarmctlTrainShowTest, JsonHasTheRunCheckpointsAndSteps) {
  for (const std::string& key : {std::to_string(job_id_), hash_}) {
    const CliRun run = Show(key + " --json");
    ASSERT_EQ(run.exit_code, 0) << run.out;
    const json out = farmctl_test::ParseOrFail(run);
    EXPECT_EQ(out["job_id"], job_id_);
    EXPECT_EQ(out["train_param_hash"], hash_);
    EXPECT_EQ(out["prepare_param_hash"], std::string(64, 'd'));
    EXPECT_EQ(out["dataset_sha256"], std::string(64, 'f'));
    EXPECT_EQ(out["checkpoint_sha256"], std::string(64, 'a'));
    EXPECT_EQ(out["world_size"], 2);
    EXPECT_EQ(out["steps_trained"], 1600);
    EXPECT_EQ(out["best_step"], 800);
    EXPECT_DOUBLE_EQ(out["best_score"].get<double>(), 0.71);
    EXPECT_EQ(out["params"]["rank"], 16);
    EXPECT_EQ(out["params"]["extra"]["lr_scheduler"], "constant");
    ASSERT_EQ(out["checkpoints"].size(), 2u);
    EXPECT_EQ(out["checkpoints"][0]["sshs_legacy_hash"], "1234abcd");
    EXPECT_EQ(out["checkpoints"][0]["best"], true);
    EXPECT_EQ(out["checkpoints"][1]["best"], false);
    EXPECT_DOUBLE_EQ(out["checkpoints"][1]["validation_score"].get<double>(), 0.55);
    ASSERT_EQ(out["steps"].size(), 16u);
    EXPECT_EQ(out["steps"][15]["step"], 1600);
    EXPECT_DOUBLE_EQ(out["steps"][15]["loss"].get<double>(), 1.0 / 1600);
    EXPECT_DOUBLE_EQ(out["steps"][0]["grad_norm"].get<double>(), 0.25);
  }
}

TEST_F(FarmctlTrainShowTest, TextShowsFactsCheckpointsAndSpacedSteps) {
  const CliRun run = Show(std::to_string(job_id_) + " --steps 4");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("world size        2"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("best step         800 (face-ID 0.71)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("rank 16, alpha 8"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("1234abcd"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("steps (4 of 16 stored rows)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\n1600 "), std::string::npos) << run.out;  // the last step is shown
}

TEST_F(FarmctlTrainShowTest, UnknownJobOrHashIsAClearError) {
  CliRun run = Show("999");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("job 999 has no training run"), std::string::npos) << run.out;
  run = Show(std::string(64, '0'));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("no training run with param_hash"), std::string::npos) << run.out;
}

}  // namespace
