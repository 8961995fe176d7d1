// The portrait pipeline through the farm, as a user runs it: farm-agent make-tiny-model
// writes a tiny checkpoint, pose ControlNet and LoRA into a models folder; `farmctl run`
// stores the spec's identity from a face-api demo photo, starts farmd and two agents, runs
// real render jobs (txt2img with LoRA and pose, detailer, tone) and score jobs, and prints
// the ranking; every render is in the database with its stages' settings, each stage's
// image, its faces artifact and the agent's metrics, and `farmctl reproduce` re-renders one
// bit for bit. The tiny model's images
// hold no face, so every score is NULL with a reason: the ranking with real similarities
// is covered by farmctl_rank_test and the farmd score tests.
// Skips without the face-api models and demo photos, or without the render commands.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "farm/schemas/sha256.h"
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

class FarmctlPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const CliRun help = Shell(kAgent + " --help 2>&1");
    if (help.out.find("make-tiny-model") == std::string::npos) {
      GTEST_SKIP() << "farm-agent was built without the render commands";
    }
    std::string skip;
    auto farm_dir = farmctl_test::MakeTinyFarmDir(kAgent, "farmctl_pipeline", "sample1.jpg", &skip);
    if (!farm_dir) {
      if (!skip.empty()) GTEST_SKIP() << skip;
      return;
    }
    dir_ = farm_dir->dir;
    models_ = farm_dir->models;
    db_ = farm_dir->db;
    const json& files = farm_dir->tiny_files;
    auto lora = farm::Sha256File(files.value("lora", ""));
    ASSERT_TRUE(lora.ok()) << lora.status().ToString();
    lora_sha256_ = *lora;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  std::string WriteSpec() const {
    const std::string path = dir_ + "/portraits.yaml";
    std::ofstream(path) << R"(name: portraits
identity:
  name: demo
  photos: models:/face-api/demo/sample1.jpg
  token: sks person
  pick: largest
checkpoint:
  path: models:/tiny/tiny-sd15.safetensors
loras:
  face: {path: models:/tiny/tiny-lora.safetensors}
render:
  prompt: "studio portrait photo of {token}, {pose}, {tone}"
  negative_prompt: blurry
  size: 64x64
  steps: 2
  cfg: 7
  clip_skip: 1
  sampler: Euler
  pose: head_and_shoulders
  pose_control: {path: models:/tiny/tiny-controlnet.safetensors}
  seeds: [1, 2]
grid:
  tone: [warm, cool]
  lora_weight: [0, 0.8]
pipeline: face
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
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string dir_, models_, db_, lora_sha256_;
};

TEST_F(FarmctlPipelineTest, RendersScoresRanksAndReproducesThroughTheFarm) {
  const std::string spec = WriteSpec();
  const CliRun run = Farmctl("--json run " + Quote(spec) + " --agents 2 --top 0 --stage-images");
  ASSERT_EQ(run.exit_code, 0) << run.out << Stderr();
  const json out = ParseOrFail(run);
  EXPECT_FALSE(out.value("synthetic", true));
  EXPECT_EQ(out["counts"]["total"], 16) << out.dump(2);  // 8 renders, 8 scores
  EXPECT_EQ(out["counts"]["succeeded"], 16) << out.dump(2) << Stderr();
  ASSERT_TRUE(out.contains("ranking")) << out.dump(2);
  EXPECT_EQ(out["ranking"]["identity"], "demo");
  const json& rows = out["ranking"]["renders"];
  ASSERT_EQ(rows.size(), 8u);
  for (const json& row : rows) {
    EXPECT_TRUE(row["scored"].get<bool>()) << row.dump();
    // A random tiny model draws no face: a NULL similarity with the reason.
    EXPECT_TRUE(row["similarity"].is_null()) << row.dump();
    EXPECT_EQ(row["faces"], 0) << row.dump();
    EXPECT_FALSE(row["reason"].get<std::string>().empty()) << row.dump();
  }

  auto store = farm::store::Store::Open(db_, farm::store::OpenMode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto identity = (*store)->GetIdentityByName("demo");
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  ASSERT_EQ(identity->photos.size(), 1u);
  EXPECT_GT(identity->photos[0].face_count, 1);  // the demo photo shows several people
  farm::store::RenderFilter filter;
  filter.sweep_id = out["sweep_id"].get<std::int64_t>();
  auto renders = (*store)->ListRenders(filter);
  ASSERT_TRUE(renders.ok()) << renders.status().ToString();
  ASSERT_EQ(renders->size(), 8u);
  int with_lora = 0;
  std::set<std::string> tones;
  for (const farm::store::Render& render : *renders) {
    EXPECT_TRUE(render.faces_artifact_id.has_value()) << render.id;
    EXPECT_TRUE(render.record_artifact_id.has_value()) << render.id;
    // Every stage's image was kept (--stage-images), and the agent's metrics.
    auto stages = (*store)->ListRenderStageImages(render.id);
    ASSERT_TRUE(stages.ok()) << stages.status().ToString();
    std::vector<std::string> names;
    for (const auto& [stage, artifact] : *stages) names.push_back(stage);
    EXPECT_EQ(names, (std::vector<std::string>{"detailer#1", "tone#2", "txt2img"})) << render.id;
    ASSERT_TRUE(render.job_id.has_value());
    auto attempts = (*store)->ListAttempts(*render.job_id);
    ASSERT_TRUE(attempts.ok() && !attempts->empty());
    const json metrics = json::parse(attempts->back().metrics_json, nullptr, false);
    ASSERT_TRUE(metrics.is_object()) << attempts->back().metrics_json;
    EXPECT_GT(metrics.value("seconds_in_unet", 0.0), 0.0) << metrics.dump();
    EXPECT_EQ(metrics.value("models_from_cache", -1.0) + metrics.value("models_loaded", -1.0),
              render.params.loras.empty() ? 1.0 : 2.0)
        << metrics.dump();
    const farm::RenderParams& p = render.params;
    tones.insert(p.tone);
    ASSERT_EQ(p.controlnets.size(), 1u);
    EXPECT_EQ(p.controlnets[0].input, "pose:head_and_shoulders");
    ASSERT_EQ(p.stages.size(), 2u);  // the `face` pipeline: detailer, tone
    EXPECT_EQ(p.stages[0].kind, "detailer");
    EXPECT_EQ(p.stages[1].kind, "tone");
    EXPECT_FALSE(p.stages[1].settings.empty());  // the tone preset's grade, recorded
    if (!p.loras.empty()) {
      ++with_lora;
      EXPECT_EQ(p.loras[0].ref, "sha256:" + lora_sha256_);
      EXPECT_DOUBLE_EQ(p.loras[0].weight, 0.8);
    }
  }
  EXPECT_EQ(with_lora, 4);
  EXPECT_EQ(tones, (std::set<std::string>{"warm", "cool"}));

  // A farm render re-renders locally to the same pixels.
  const std::int64_t render_id = rows[0]["render_id"].get<std::int64_t>();
  const CliRun again = Farmctl("--json reproduce " + std::to_string(render_id));
  ASSERT_EQ(again.exit_code, 0) << again.out << Stderr();
  EXPECT_TRUE(ParseOrFail(again).value("match", false)) << again.out;

  // Same command again: resumes the finished sweep, nothing new runs.
  const CliRun resumed = Farmctl("--json run " + Quote(spec) + " --agents 1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << Stderr();
  EXPECT_TRUE(ParseOrFail(resumed).value("resumed", false)) << resumed.out;
}

}  // namespace
