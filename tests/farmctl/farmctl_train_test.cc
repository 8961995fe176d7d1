// LoRA training through the farm, as a user runs it: `farmctl run` on a spec with train:
// starts farmd and two agents; a prepare job cuts face crops from face-api demo photos, a
// train job runs farm-train on the tiny model (8 steps, checkpoints at 4 and 8), render
// jobs wait for those checkpoints and fetch them from farmd, and score jobs score the
// renders. Checks every job succeeded, the train job's outputs, that renders used the
// trained files (their sha256 in the render records), and that the training's per-step
// progress is queryable afterwards (`farmctl train show`).
// Skips without the face-api models and demo photos, or without farm-train.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
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

class FarmctlTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Shell(kAgent + " --help 2>&1").out.find("--farm-train") == std::string::npos) {
      GTEST_SKIP() << "farm-agent was built without prepare and train jobs";
    }
    std::string skip;
    auto farm_dir = farmctl_test::MakeTinyFarmDir(kAgent, "farmctl_train", "sample3.jpg", &skip);
    if (!farm_dir) {
      if (!skip.empty()) GTEST_SKIP() << skip;
      return;
    }
    dir_ = farm_dir->dir;
    models_ = farm_dir->models;
    db_ = farm_dir->db;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  std::string WriteSpec() const {
    const std::string path = dir_ + "/trains.yaml";
    std::ofstream(path) << R"(name: trains
identity:
  name: demo
  photos:
    - models:/face-api/demo/sample1.jpg
    - models:/face-api/demo/sample2.jpg
    - models:/face-api/demo/sample3.jpg
  token: sks person
  pick: largest
checkpoint:
  path: models:/tiny/tiny-sd15.safetensors
train:
  steps: [4, 8]
  rank: 4
  alpha: 2
  learning_rate: 1e-4
  batch_size: 1
  resolution: 64
  seed: 0
  extra: {gradient_accumulation: 1}
render:
  prompt: "studio portrait photo of {token}"
  size: 64x64
  steps: 2
  cfg: 7
  clip_skip: 1
  sampler: Euler
  seeds: [1]
grid:
  lora_weight: [0, 0.8]
score: {metric: cosine}
)";
    return path;
  }

  CliRun Farmctl(const std::string& args) const {
    return Shell("STUDIOFARM_DB= STUDIOFARM_ENDPOINT= " + kFarmctl + " --models-dir " + Quote(models_) +
                 " --db " + Quote(db_) + " " + args + " 2>" + Quote(dir_ + "/stderr.log"));
  }
  std::string Stderr() const {
    std::ifstream in(dir_ + "/stderr.log");
    std::string text(std::istreambuf_iterator<char>(in), {});
    for (const char* log : {"/state/logs/agent-1.log", "/state/logs/agent-2.log"}) {
      std::ifstream agent(dir_ + log);
      std::stringstream tail;
      tail << agent.rdbuf();
      text += std::string("\n--- ") + log + "\n" + tail.str().substr(tail.str().size() > 4000 ? tail.str().size() - 4000 : 0);
    }
    return text;
  }
  static std::string FileText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Stored artifacts' paths are relative to the local farm's artifact root.
  std::string ArtifactText(const std::string& relative) const {
    return FileText(dir_ + "/state/artifacts/" + relative);
  }

  std::string dir_, models_, db_;
};

TEST_F(FarmctlTrainTest, PreparesTrainsRendersWithTheTrainedLoraAndScores) {
  const CliRun run = Farmctl("--json run " + Quote(WriteSpec()) + " --agents 2 --top 0");
  ASSERT_EQ(run.exit_code, 0) << run.out << Stderr();
  const json out = ParseOrFail(run);
  EXPECT_FALSE(out.value("synthetic", true));
  // 1 prepare, 1 train, 3 renders (lora_weight 0 once, 0.8 at steps 4 and 8), 3 scores.
  EXPECT_EQ(out["counts"]["total"], 8) << out.dump(2);
  EXPECT_EQ(out["counts"]["succeeded"], 8) << out.dump(2) << Stderr();

  auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  farm::store::JobFilter filter;
  filter.sweep_id = out["sweep_id"].get<std::int64_t>();
  auto jobs = (*store)->ListJobs(filter);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  std::map<farm::store::JobKind, std::vector<farm::store::Job>> by_kind;
  for (const farm::store::Job& job : *jobs) {
    EXPECT_EQ(job.state, farm::store::JobState::kSucceeded) << job.id << " " << job.last_error;
    by_kind[job.kind].push_back(job);
  }
  ASSERT_EQ(by_kind[farm::store::JobKind::kPrepare].size(), 1u);
  ASSERT_EQ(by_kind[farm::store::JobKind::kTrain].size(), 1u);
  EXPECT_EQ(by_kind[farm::store::JobKind::kRender].size(), 3u);

  auto dataset = (*store)->ListJobArtifacts(by_kind[farm::store::JobKind::kPrepare][0].id);
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  ASSERT_EQ(dataset->size(), 1u);
  EXPECT_EQ((*dataset)[0].name, "dataset");
  EXPECT_EQ((*dataset)[0].artifact.media_type, "application/x-tar");

  // The train job's outputs: both checkpoints and the per-step metrics.
  const farm::store::Job& train = by_kind[farm::store::JobKind::kTrain][0];
  EXPECT_EQ(json::parse(train.params_json).value("prepare_param_hash", ""),
            by_kind[farm::store::JobKind::kPrepare][0].param_hash);
  auto outputs = (*store)->ListJobArtifacts(train.id);
  ASSERT_TRUE(outputs.ok()) << outputs.status().ToString();
  std::map<std::string, farm::store::Artifact> named;
  for (const farm::store::JobArtifact& a : *outputs) named[a.name] = a.artifact;
  ASSERT_TRUE(named.count("lora@4") && named.count("lora@8") && named.count("train_metrics")) << outputs->size();
  std::istringstream metrics(ArtifactText(named["train_metrics"].path));
  int steps = 0;
  for (std::string line; std::getline(metrics, line);) {
    const json m = json::parse(line, nullptr, false);
    if (m.is_object() && m.contains("loss")) ++steps;
  }
  EXPECT_EQ(steps, 8);

  // Renders with the LoRA used the trained files: their records name them by sha256.
  std::set<std::string> used;
  int with_lora = 0;
  farm::store::RenderFilter render_filter;
  render_filter.sweep_id = filter.sweep_id;
  auto renders = (*store)->ListRenders(render_filter);
  ASSERT_TRUE(renders.ok()) << renders.status().ToString();
  ASSERT_EQ(renders->size(), 3u);
  for (const farm::store::Render& render : *renders) {
    if (render.params.loras.empty()) continue;
    ++with_lora;
    EXPECT_EQ(render.params.loras[0].ref.rfind("train:" + train.param_hash + "@", 0), 0u) << render.params.loras[0].ref;
    ASSERT_TRUE(render.record_artifact_id.has_value()) << render.id;
    auto record_file = (*store)->GetArtifact(*render.record_artifact_id);
    ASSERT_TRUE(record_file.ok()) << record_file.status().ToString();
    const json record = json::parse(ArtifactText(record_file->path), nullptr, false);
    ASSERT_TRUE(record.is_object() && record["loras"].is_array() && record["loras"].size() == 1) << record.dump();
    used.insert(record["loras"][0].value("sha256", ""));
  }
  EXPECT_EQ(with_lora, 2);
  EXPECT_EQ(used, (std::set<std::string>{named["lora@4"].sha256, named["lora@8"].sha256}));

  // The training's steps are stored and queryable.
  const CliRun shown = Farmctl("train show " + std::to_string(train.id) + " --json");
  ASSERT_EQ(shown.exit_code, 0) << shown.out << Stderr();
  const json show = ParseOrFail(shown);
  EXPECT_NE(show.dump().find("\"loss\""), std::string::npos) << show.dump(2);
}

}  // namespace
