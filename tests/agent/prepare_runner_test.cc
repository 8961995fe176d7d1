// JOB_KIND_PREPARE on one agent without farmd: a PrepareParams record naming demo photos
// under a models folder becomes the "dataset" folder bundle; the bundle, unpacked as the
// agent's fetch would, trains with TrainRunner. Missing or changed photos are transient
// (another agent may hold them), photos without a face a permanent failure.
// Skips without the face-api models and demo photos ($STUDIOFARM_MODELS/face-api).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "faceid_paths.h"
#include "farm/agent/folder_bundle.h"
#include "farm/agent/prepare_dataset.h"
#include "farm/agent/prepare_runner.h"
#include "farm/agent/train_runner.h"
#include "farm/schemas/sha256.h"
#include "shell_run.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;
using farmctl_test::Quote;
using farmctl_test::Shell;
using nlohmann::json;

class PrepareRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto faces = faceid::testing::FindFaceModelDir();
    auto demo = faceid::testing::FindFaceDemoDir();
    if (!faces || !demo || !fs::exists(*demo + "/sample3.jpg")) {
      GTEST_SKIP() << "face-api models or demo photos not found (set STUDIOFARM_MODELS)";
    }
    dir_ = fs::temp_directory_path() / ("farm-prepare-runner-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "models" / "identities" / "demo");
    for (int i = 1; i <= 3; ++i) {
      const std::string name = "sample" + std::to_string(i) + ".jpg";
      fs::copy_file(*demo + "/" + name, dir_ / "models" / "identities" / "demo" / name);
    }
    PrepareRunnerOptions o;
    o.models_dir = (dir_ / "models").string();
    o.face_models_dir = *faces;
    o.datasets_dir = (dir_ / "datasets").string();
    runner_ = std::make_unique<PrepareRunner>(o);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::string Sha(const std::string& relative) const {
    auto sha = Sha256File((dir_ / "models" / relative).string());
    return sha.ok() ? *sha : std::string(64, '0');
  }
  // A PrepareParams record as farmd sends it (photos sorted by sha256).
  std::string Params(std::vector<std::string> photos, bool pick_largest = true) const {
    json list = json::array();
    std::vector<std::pair<std::string, std::string>> refs;
    for (const std::string& p : photos) refs.push_back({Sha(p), p});
    std::sort(refs.begin(), refs.end());
    for (const auto& [sha, path] : refs) list.push_back({{"path", path}, {"sha256", sha}});
    return json{{"identity", "demo"},
                {"instance_token", "sks person"},
                {"photos", list},
                {"settings",
                 {{"crop_ratio", 3.0},
                  {"resolution", 64},
                  {"caption_template", "a photo of {token}"},
                  {"pick_largest", pick_largest}}}}
        .dump();
  }
  JobOutcome Run(const std::string& params) {
    JobSpec spec;
    spec.job_id = 7;
    spec.attempt = 1;
    spec.kind = studiofarm::v1::JOB_KIND_PREPARE;
    spec.param_hash = "p1";
    spec.params_json = params;
    CancellationToken cancel;
    return runner_->Run(spec, [&](const ProgressUpdate& u) { updates_.push_back(u); }, cancel);
  }

  fs::path dir_;
  std::unique_ptr<PrepareRunner> runner_;
  std::vector<ProgressUpdate> updates_;
};

const std::vector<std::string> kDemo = {"identities/demo/sample1.jpg", "identities/demo/sample2.jpg",
                                        "identities/demo/sample3.jpg"};

TEST_F(PrepareRunnerTest, PhotosBecomeOneDatasetBundleThatTrains) {
  JobOutcome outcome = Run(Params(kDemo));
  ASSERT_EQ(outcome.status, JobStatus::kSucceeded) << outcome.error;
  ASSERT_EQ(outcome.artifacts.size(), 1u);
  EXPECT_EQ(outcome.artifacts[0].name, "dataset");
  EXPECT_EQ(outcome.artifacts[0].media_type, "application/x-tar");
  EXPECT_EQ(outcome.metrics["images"], 3);
  EXPECT_EQ(outcome.metrics["skipped"], 0);
  ASSERT_FALSE(updates_.empty());
  EXPECT_EQ(updates_.back().stage, "prepare");

  // Unpacked as FetchFolder would: a complete dataset of the three photos at 64 px.
  const std::string folder = (dir_ / "fetched").string();
  ASSERT_TRUE(UnbundleFolder(outcome.artifacts[0].bytes, folder).ok());
  StatusOr<DatasetManifest> manifest = LoadPreparedDataset(folder);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->images.size(), 3u);
  EXPECT_EQ(manifest->settings.resolution, 64);
  EXPECT_TRUE(manifest->settings.pick_largest);
  EXPECT_EQ(manifest->images[0].caption, "a photo of sks person");

  // The same record again: the kept dataset, the same bytes.
  JobOutcome again = Run(Params(kDemo));
  ASSERT_EQ(again.status, JobStatus::kSucceeded) << again.error;
  EXPECT_EQ(Sha256Hex(again.artifacts[0].bytes), Sha256Hex(outcome.artifacts[0].bytes));

  // A train job on the tiny model trains on it (the dataset source stands in for the fetch).
  fs::create_directories(dir_ / "sd");
  auto tiny = Shell(std::string(FARM_AGENT_BINARY) + " make-tiny-model " + Quote((dir_ / "sd").string()) + " --json");
  ASSERT_EQ(tiny.exit_code, 0) << tiny.out;
  auto index = ModelIndex::Build({(dir_ / "sd").string(), ""});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  auto checkpoint = Sha256File((dir_ / "sd" / "tiny-sd15.safetensors").string());
  ASSERT_TRUE(checkpoint.ok());
  TrainRunnerOptions t;
  t.models = std::make_shared<const ModelIndex>(std::move(*index));
  t.farm_train = FARM_TRAIN_BINARY;
  t.work_dir = (dir_ / "train").string();
  std::string asked_for;
  t.dataset = [&](const std::string& params, const CancellationToken&) -> StatusOr<std::string> {
    asked_for = json::parse(params).value("prepare_param_hash", "");
    return folder;
  };
  TrainRunner trainer(t);
  JobSpec spec;
  spec.kind = studiofarm::v1::JOB_KIND_TRAIN;
  spec.param_hash = "t1";
  spec.gang_size = 1;
  spec.params_json = R"({"checkpoint_sha256":")" + *checkpoint +
                     R"(","prepare_param_hash":"p1","save_steps":[2],"rank":4,"alpha":2,"resolution":64,)"
                     R"("extra":{"gradient_accumulation":1}})";
  CancellationToken cancel;
  JobOutcome trained = trainer.Run(spec, [](const ProgressUpdate&) {}, cancel);
  ASSERT_EQ(trained.status, JobStatus::kSucceeded) << trained.error;
  EXPECT_EQ(asked_for, "p1");
  EXPECT_EQ(trained.artifacts.front().name, "lora@2");
}

TEST_F(PrepareRunnerTest, AMissingOrChangedPhotoIsTransientAndNamed) {
  fs::remove(dir_ / "models" / kDemo[1]);
  JobOutcome missing = Run(Params({kDemo[0]}) );
  ASSERT_EQ(missing.status, JobStatus::kSucceeded) << missing.error;  // only sample1 asked for
  std::string params = Params(kDemo);  // sample2 now hashes as zeros: not on this agent
  JobOutcome outcome = Run(params);
  EXPECT_EQ(outcome.status, JobStatus::kFailed);
  EXPECT_FALSE(outcome.permanent);
  EXPECT_NE(outcome.error.find("sample2.jpg"), std::string::npos) << outcome.error;

  std::ofstream(dir_ / "models" / kDemo[1], std::ios::binary) << "not the photo";
  json doc = json::parse(Params({kDemo[0]}));
  doc["photos"].push_back({{"path", kDemo[1]}, {"sha256", std::string(64, 'a')}});
  JobOutcome changed = Run(doc.dump());
  EXPECT_EQ(changed.status, JobStatus::kFailed);
  EXPECT_FALSE(changed.permanent);
  EXPECT_NE(changed.error.find("sample2.jpg"), std::string::npos) << changed.error;
  EXPECT_NE(changed.error.find("sha256"), std::string::npos) << changed.error;
}

TEST_F(PrepareRunnerTest, NoUsableFaceIsPermanentWithEachReasonAndBadParamsToo) {
  // Every demo photo shows several people: without pick_largest none is usable.
  JobOutcome outcome = Run(Params({kDemo[0], kDemo[1]}, /*pick_largest=*/false));
  EXPECT_EQ(outcome.status, JobStatus::kFailed);
  EXPECT_TRUE(outcome.permanent) << outcome.error;
  EXPECT_NE(outcome.error.find("sample1.jpg"), std::string::npos) << outcome.error;
  EXPECT_NE(outcome.error.find("sample2.jpg"), std::string::npos) << outcome.error;

  JobOutcome escape = Run(R"({"identity":"x","photos":[{"path":"../etc/passwd","sha256":")" + std::string(64, '0') +
                          R"("}]})");
  EXPECT_EQ(escape.status, JobStatus::kFailed);
  EXPECT_TRUE(escape.permanent);
  EXPECT_NE(escape.error.find("leaves the models folder"), std::string::npos) << escape.error;
  JobOutcome empty = Run(R"({"identity":"x","photos":[]})");
  EXPECT_TRUE(empty.permanent);
  EXPECT_NE(empty.error.find("photos"), std::string::npos) << empty.error;
}

}  // namespace
}  // namespace farm::agent
