// JOB_KIND_TRAIN on one agent without farmd: the launch command rules, then the runner
// training the tiny model on a demo-photo dataset as a gang of 2 (mpirun), reporting
// progress and returning kohya checkpoints, and stopping every rank when cancelled.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "farm/agent/train_launch.h"
#include "farm/agent/train_runner.h"
#include "shell_run.h"
#include "train_fixture.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;
using farmctl_test::Quote;
using farmctl_test::Shell;

TEST(TrainLaunchTest, OneRankAloneMpirunForAGangSrunUnderSlurm) {
  LaunchRequest r;
  r.train_args = {"/bin/farm-train", "--json"};
  EXPECT_EQ(LaunchCommand(r), r.train_args);
  r.ranks = 4;
  r.cores = 2;
  r.root = true;
  EXPECT_EQ(LaunchCommand(r), (std::vector<std::string>{"mpirun", "-np", "4", "--bind-to", "none", "--oversubscribe",
                                                        "--allow-run-as-root", "/bin/farm-train", "--json"}));
  r.cores = 8;
  r.root = false;
  r.hostfile = "/tmp/hosts";
  EXPECT_EQ(LaunchCommand(r), (std::vector<std::string>{"mpirun", "-np", "4", "--bind-to", "none", "--hostfile",
                                                        "/tmp/hosts", "/bin/farm-train", "--json"}));
  r.slurm = true;
  EXPECT_EQ(LaunchCommand(r), (std::vector<std::string>{"srun", "-n", "4", "/bin/farm-train", "--json"}));
  EXPECT_EQ(Hostfile({"a", "a", "b", "a"}), "a slots=3\nb slots=1\n");
}

class TrainRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = fs::temp_directory_path() / ("farm-train-runner-" + std::to_string(::getpid()));
    auto fixture = testing::MakeTrainFixture(FARM_AGENT_BINARY, dir, 3, &why_);
    if (!fixture) return;
    dir_ = new std::string(fixture->dir);
    checkpoint_sha_ = new std::string(fixture->checkpoint_sha256);
    dataset_ = new std::string(fixture->dataset);
  }
  static void TearDownTestSuite() {
    if (dir_) fs::remove_all(*dir_);
  }
  void SetUp() override {
    if (!dataset_) GTEST_SKIP() << why_;
    auto index = ModelIndex::Build({*dir_ + "/models", ""});
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    TrainRunnerOptions o;
    o.models = std::make_shared<const ModelIndex>(std::move(*index));
    o.farm_train = FARM_TRAIN_BINARY;
    o.work_dir = *dir_ + "/work";
    o.dataset = [](const std::string&, const CancellationToken&) -> StatusOr<std::string> { return *dataset_; };
    runner_ = std::make_unique<TrainRunner>(o);
  }

  JobSpec Spec(const std::string& params, uint32_t gang_size) {
    JobSpec spec;
    spec.job_id = 1;
    spec.attempt = 1;
    spec.kind = studiofarm::v1::JOB_KIND_TRAIN;
    spec.param_hash = "h" + std::to_string(++jobs_);  // one run folder per job
    spec.params_json = params;
    spec.gang_size = gang_size;
    return spec;
  }
  std::string Params(const std::string& steps) const {
    return R"({"checkpoint_sha256":")" + *checkpoint_sha_ + R"(","save_steps":)" + steps +
           R"(,"rank":4,"alpha":2,"extra":{"gradient_accumulation":1}})";
  }

  static std::string* dir_;
  static std::string* dataset_;
  static std::string* checkpoint_sha_;
  static std::string why_;
  std::unique_ptr<TrainRunner> runner_;
  static int jobs_;
};
int TrainRunnerTest::jobs_ = 0;
std::string TrainRunnerTest::why_;
std::string* TrainRunnerTest::dir_ = nullptr;
std::string* TrainRunnerTest::dataset_ = nullptr;
std::string* TrainRunnerTest::checkpoint_sha_ = nullptr;

TEST_F(TrainRunnerTest, AGangOfTwoTrainsReportsProgressAndReturnsCheckpoints) {
  std::vector<ProgressUpdate> updates;
  CancellationToken cancel;
  JobOutcome outcome = runner_->Run(Spec(Params("[4,8]"), 2), [&](const ProgressUpdate& u) { updates.push_back(u); },
                                    cancel);
  ASSERT_EQ(outcome.status, JobStatus::kSucceeded) << outcome.error;
  std::vector<std::string> names;
  for (const OutputArtifact& a : outcome.artifacts) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"lora@4", "lora@8", "train_result", "train_metrics"}));
  EXPECT_EQ(outcome.metrics["steps"], 8);
  EXPECT_EQ(outcome.metrics["world_size"], 2);
  EXPECT_GT(outcome.metrics["final_loss"], 0);
  ASSERT_FALSE(updates.empty());
  EXPECT_EQ(updates.back().stage, "train");
  EXPECT_EQ(updates.back().step, 8u);
  EXPECT_EQ(updates.back().total_steps, 8u);
  EXPECT_NE(updates.back().message.find("loss"), std::string::npos);
  const auto result = nlohmann::json::parse(outcome.artifacts[2].bytes);
  EXPECT_EQ(result["collectives"]["all_reduces"], 8);
}

TEST_F(TrainRunnerTest, CancelStopsEveryRankAndAPartnerSeatWaits) {
  CancellationToken cancel;
  std::atomic<bool> started{false}, returned{false};
  std::thread stopper([&] {
    while (!started && !returned) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    cancel.Request(CancellationToken::Reason::kCancelled);
  });
  JobOutcome outcome = runner_->Run(Spec(Params("[100000]"), 2), [&](const ProgressUpdate& u) {
    if (u.step >= 2) started = true;
  }, cancel);
  returned = true;
  stopper.join();
  EXPECT_TRUE(started) << "training never got going: " << outcome.error;
  EXPECT_EQ(outcome.status, JobStatus::kCancelled) << outcome.error;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(Shell("pgrep -f -- '^[^ ]*[f]arm-train --checkpoint .*" + *dir_ + "'").out.empty()) << "ranks left running";

  CancellationToken partner_cancel;
  JobSpec partner = Spec(Params("[4]"), 2);
  partner.gang_rank = 1;
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    partner_cancel.Request(CancellationToken::Reason::kCancelled);
  });
  EXPECT_EQ(runner_->Run(partner, [](const ProgressUpdate&) {}, partner_cancel).status, JobStatus::kCancelled);
  release.join();
}

TEST_F(TrainRunnerTest, BadParametersFailPermanently) {
  CancellationToken cancel;
  JobOutcome outcome = runner_->Run(Spec(R"({"save_steps":[]})", 1), [](const ProgressUpdate&) {}, cancel);
  EXPECT_EQ(outcome.status, JobStatus::kFailed);
  EXPECT_TRUE(outcome.permanent);
  EXPECT_NE(outcome.error.find("save_steps"), std::string::npos) << outcome.error;
}

}  // namespace
}  // namespace farm::agent
