// farm-train end to end on the tiny model and a dataset prepared from the face-api demo
// photos: kohya checkpoints and result, byte-identical files for the same spec, kill -9
// and resume giving the uninterrupted run's bytes, and the data-parallel guarantees under
// `mpirun -np 2` (identical weights on every rank, 2 ranks x b = 1 rank x 2b, exactly one
// all-reduce per optimizer step, a killed rank ending the whole job).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "shell_run.h"
#include "train_fixture.h"

namespace {
namespace fs = std::filesystem;
using farmctl_test::FileBytes;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

const std::string kAgent = FARM_AGENT_BINARY;
const std::string kTrain = FARM_TRAIN_BINARY;
const std::string kMpirun = std::string(FARM_SOURCE_DIR) + "/tools/mpirun.sh";

json SafetensorsHeader(const std::string& path) {
  const std::string bytes = FileBytes(path);
  if (bytes.size() < 8) return json();
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return json::parse(bytes.substr(8, n), nullptr, false);
}

std::vector<float> Floats(const std::string& path, const std::string& name) {
  const std::string bytes = FileBytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const json header = json::parse(bytes.substr(8, n));
  const auto offsets = header[name]["data_offsets"];
  std::vector<float> out((offsets[1].get<size_t>() - offsets[0].get<size_t>()) / 4);
  std::memcpy(out.data(), bytes.data() + 8 + n + offsets[0].get<size_t>(), out.size() * 4);
  return out;
}

class FarmTrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = fs::temp_directory_path() / ("farm-train-test-" + std::to_string(::getpid()));
    auto fixture = farm::agent::testing::MakeTrainFixture(kAgent, dir, 6, &why_);
    if (!fixture) return;
    dir_ = new std::string(fixture->dir);
    checkpoint_ = new std::string(fixture->checkpoint);
    dataset_ = new std::string(fixture->dataset);
  }
  static void TearDownTestSuite() {
    if (dir_) fs::remove_all(*dir_);
  }
  void SetUp() override {
    if (!dataset_) GTEST_SKIP() << why_;
  }

  static std::string Train(const std::string& out, const std::string& flags) {
    return kTrain + " --checkpoint " + Quote(*checkpoint_) + " --dataset " + Quote(*dataset_) + " --out " +
           Quote(*dir_ + "/" + out) + " --rank 4 --alpha 2 --threads 1 --json " + flags;
  }
  static std::string Out(const std::string& out, const std::string& file) { return *dir_ + "/" + out + "/" + file; }
  static json Result(const std::string& out) {
    std::ifstream in(Out(out, "result.json"));
    return json::parse(in, nullptr, false);
  }

  static std::string* dir_;
  static std::string* checkpoint_;
  static std::string* dataset_;
  static std::string why_;
};
std::string FarmTrainTest::why_;
std::string* FarmTrainTest::dir_ = nullptr;
std::string* FarmTrainTest::checkpoint_ = nullptr;
std::string* FarmTrainTest::dataset_ = nullptr;

TEST_F(FarmTrainTest, WritesKohyaCheckpointsMetricsAndOneAllReducePerStep) {
  auto run = Shell(Train("a", "--save-steps 3,6 --set gradient_accumulation=2 --seed 3") + " 2>&1");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("\"event\":\"done\""), std::string::npos) << run.out;
  for (const char* file : {"lora-000003.safetensors", "lora-000006.safetensors", "state-000006.safetensors"}) {
    EXPECT_TRUE(fs::exists(Out("a", file))) << file;
  }
  const json header = SafetensorsHeader(Out("a", "lora-000006.safetensors"));
  ASSERT_TRUE(header.is_object());
  const json& meta = header["__metadata__"];
  EXPECT_EQ(meta["ss_network_module"], "networks.lora");
  EXPECT_EQ(meta["ss_network_dim"], "4");
  EXPECT_EQ(meta["ss_network_alpha"], "2.0");
  EXPECT_EQ(meta["ss_steps"], "6");
  EXPECT_EQ(meta["ss_seed"], "3");
  EXPECT_EQ(meta["sshs_model_hash"].get<std::string>().size(), 64u);
  EXPECT_TRUE(header.contains("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"));
  EXPECT_TRUE(header.contains("lora_te_text_model_encoder_layers_0_mlp_fc1.alpha"));

  const json result = Result("a");
  EXPECT_EQ(result["steps"], 6);
  EXPECT_EQ(result["world_size"], 1);
  EXPECT_EQ(result["collectives"]["all_reduces"], 6);
  EXPECT_EQ(result["checkpoints"].size(), 2u);
  std::ifstream metrics(Out("a", "metrics.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(metrics, line); ++lines) {
    const json m = json::parse(line);
    EXPECT_TRUE(m.contains("loss") && m.contains("lr") && m.contains("grad_norm")) << line;
  }
  EXPECT_EQ(lines, 6);
}

TEST_F(FarmTrainTest, SameSpecGivesByteIdenticalFiles) {
  ASSERT_EQ(Shell(Train("same1", "--save-steps 4 --seed 9") + " >/dev/null 2>&1").exit_code, 0);
  ASSERT_EQ(Shell(Train("same2", "--save-steps 4 --seed 9") + " >/dev/null 2>&1").exit_code, 0);
  const std::string a = FileBytes(Out("same1", "lora-000004.safetensors"));
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, FileBytes(Out("same2", "lora-000004.safetensors")));
  ASSERT_EQ(Shell(Train("other", "--save-steps 4 --seed 10") + " >/dev/null 2>&1").exit_code, 0);
  EXPECT_NE(a, FileBytes(Out("other", "lora-000004.safetensors")));
}

TEST_F(FarmTrainTest, KilledAndResumedRunEndsWithTheUninterruptedRunsBytes) {
  const std::string flags = "--save-steps 5,10,15,20,25,30,35,40 --seed 4";
  ASSERT_EQ(Shell(Train("whole", flags) + " >/dev/null 2>&1").exit_code, 0);
  // Start the same run, kill -9 it once its first state is on disk, run it again.
  const pid_t pid = farmctl_test::SpawnWithLog(
      {"/bin/sh", "-c", "exec " + Train("killed", flags) + " >/dev/null"}, -1, *dir_ + "/killed.log");
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(Out("killed", "state-000010.safetensors")) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed; make it longer";
  ASSERT_FALSE(fs::exists(Out("killed", "result.json")));
  auto resumed = Shell(Train("killed", flags) + " 2>&1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  const json start = json::parse(resumed.out.substr(0, resumed.out.find('\n')));
  EXPECT_GE(start["resumed_from"].get<int>(), 10) << resumed.out;
  EXPECT_EQ(FileBytes(Out("whole", "lora-000040.safetensors")), FileBytes(Out("killed", "lora-000040.safetensors")));
  EXPECT_EQ(Result("killed")["resumed_from"], start["resumed_from"]);
}

TEST_F(FarmTrainTest, TwoRanksAgreeMatchOneRankWithTheWholeBatchAndReduceOncePerStep) {
  auto two = Shell(kMpirun + " 2 " + Train("ranks2", "--save-steps 6 --batch 1 --set gradient_accumulation=2 "
                                                     "--write-rank-weights") + " 2>&1");
  ASSERT_EQ(two.exit_code, 0) << two.out;
  const std::string w0 = FileBytes(Out("ranks2", "rank-0-weights.safetensors"));
  ASSERT_FALSE(w0.empty());
  EXPECT_EQ(w0, FileBytes(Out("ranks2", "rank-1-weights.safetensors")));  // bit-identical
  const json result = Result("ranks2");
  EXPECT_EQ(result["world_size"], 2);
  EXPECT_EQ(result["backend"], "mpi");
  EXPECT_EQ(result["collectives"]["all_reduces"], 6);
  const std::vector<float> w = Floats(Out("ranks2", "rank-0-weights.safetensors"), "flat_params");
  EXPECT_EQ(result["collectives"]["bytes_all_reduced"], 6 * w.size() * sizeof(float));

  auto one = Shell(Train("rank1", "--save-steps 6 --batch 2 --set gradient_accumulation=2 --write-rank-weights") + " 2>&1");
  ASSERT_EQ(one.exit_code, 0) << one.out;
  const std::vector<float> v = Floats(Out("rank1", "rank-0-weights.safetensors"), "flat_params");
  ASSERT_EQ(v.size(), w.size());
  double worst = 0;
  for (size_t i = 0; i < v.size(); ++i) worst = std::max(worst, std::abs(double(v[i]) - w[i]) / (1e-5 + 1e-5 * std::abs(v[i])));
  EXPECT_LE(worst, 1.0) << "2 ranks x 1 and 1 rank x 2 differ beyond float summation";
  EXPECT_NE(FileBytes(Out("rank1", "rank-0-weights.safetensors")), "");
}

TEST_F(FarmTrainTest, AKilledRankEndsEveryRank) {
  const std::string out = *dir_ + "/killrank";
  const pid_t pid = farmctl_test::SpawnWithLog(
      {"/bin/sh", "-c", "exec " + kMpirun + " 2 " + Train("killrank", "--save-steps 100000") + " >/dev/null"}, -1,
      *dir_ + "/killrank.log");
  ASSERT_GT(pid, 0);
  // Wait until both ranks train, then kill one of them.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(out + "/metrics.jsonl") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto ranks = Shell("pgrep -f -- " + Quote("^[^ ]*[f]arm-train --checkpoint .*" + out) + " | head -1");
  ASSERT_FALSE(ranks.out.empty()) << "no rank found";
  ::kill(std::stoi(ranks.out), SIGKILL);
  int status = 0;
  const auto killed_at = std::chrono::steady_clock::now();
  ::waitpid(pid, &status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, std::chrono::seconds(20));
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(Shell("pgrep -f -- " + Quote("^[^ ]*[f]arm-train --checkpoint .*" + out)).out.empty()) << "orphan ranks remain";
}

TEST_F(FarmTrainTest, BadInputIsAClearError) {
  auto missing = Shell(kTrain + " --checkpoint " + Quote(*checkpoint_) + " --dataset /nonexistent --out " +
                       Quote(*dir_ + "/bad") + " 2>&1");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.out.find("/nonexistent"), std::string::npos) << missing.out;
  auto bad_setting = Shell(Train("bad", "--save-steps 2 --set lr_scheduler=sometimes") + " 2>&1");
  EXPECT_EQ(bad_setting.exit_code, 1);
  EXPECT_NE(bad_setting.out.find("sometimes"), std::string::npos) << bad_setting.out;
  auto no_steps = Shell(Train("bad2", "") + " 2>&1");
  EXPECT_EQ(no_steps.exit_code, 1);
  EXPECT_NE(no_steps.out.find("save_steps"), std::string::npos) << no_steps.out;
}

}  // namespace
