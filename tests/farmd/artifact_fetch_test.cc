// Agents fetch artifacts from farmd over loopback: a train job's LoRA checkpoints, uploaded
// by one agent, reach the render jobs of another byte-identical, once per agent; unknown
// hashes and names are clear errors; a damaged cache file is detected and fetched again.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "farm/agent/artifact_fetcher.h"
#include "farm/agent/folder_bundle.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/schemas/trained_lora.h"
#include "farmd_test_util.h"
#include "loopback_farm.h"

namespace farm::farmd::testing {
namespace {
namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Bytes of a given size that differ per seed (not a valid LoRA: the fetch is under test).
std::string Blob(std::size_t size, int seed) {
  std::string out;
  while (out.size() < size) out += Sha256Hex("blob" + std::to_string(seed) + ":" + std::to_string(out.size()));
  out.resize(size);
  return out;
}

// JOB_KIND_TRAIN stand-in: "trains" by returning one checkpoint per step, named as a
// real train job names them (LoraArtifactName).
class StandInTrainRunner : public agent::JobRunner {
 public:
  StandInTrainRunner(std::map<int, std::string> checkpoints, std::string samples)
      : checkpoints_(std::move(checkpoints)), samples_(std::move(samples)) {}
  studiofarm::v1::JobKind kind() const override { return studiofarm::v1::JOB_KIND_TRAIN; }
  agent::JobOutcome Run(const agent::JobSpec&, const agent::ProgressFn&,
                        const agent::CancellationToken&) override {
    agent::JobOutcome out;
    out.status = agent::JobStatus::kSucceeded;
    for (const auto& [step, bytes] : checkpoints_) {
      out.artifacts.push_back({LoraArtifactName(step), "application/x-safetensors", bytes});
    }
    out.artifacts.push_back({"samples", "application/x-tar", samples_});  // a folder
    return out;
  }

 private:
  std::map<int, std::string> checkpoints_;
  std::string samples_;
};

// JOB_KIND_PREPARE stand-in: the train job depends on its prepare job's "dataset".
class StandInPrepareRunner : public agent::JobRunner {
 public:
  studiofarm::v1::JobKind kind() const override { return studiofarm::v1::JOB_KIND_PREPARE; }
  agent::JobOutcome Run(const agent::JobSpec&, const agent::ProgressFn&,
                        const agent::CancellationToken&) override {
    agent::JobOutcome out;
    out.status = agent::JobStatus::kSucceeded;
    out.artifacts.push_back({"dataset", "application/x-tar", "a prepared dataset"});
    return out;
  }
};

// JOB_KIND_RENDER stand-in: resolves its trained LoRA through the fetcher, as the render
// runner's FetchedTrainedLoras does, and returns the file's bytes as its "image".
class FetchingRenderRunner : public agent::JobRunner {
 public:
  explicit FetchingRenderRunner(std::shared_ptr<agent::ArtifactFetcher> fetcher)
      : fetcher_(std::move(fetcher)) {}
  studiofarm::v1::JobKind kind() const override { return studiofarm::v1::JOB_KIND_RENDER; }
  agent::JobOutcome Run(const agent::JobSpec& spec, const agent::ProgressFn&,
                        const agent::CancellationToken& cancel) override {
    StatusOr<RenderParams> params = RenderParamsFromJson(spec.params_json);
    if (!params.ok()) return agent::FailedOutcome(params.status());
    if (params->loras.size() != 1) return agent::FailedOutcome(InvalidArgument("expected one LoRA"));
    StatusOr<TrainedLoraRef> ref = ParseTrainedLoraRef(params->loras[0].ref);
    if (!ref.ok()) return agent::FailedOutcome(ref.status());
    StatusOr<agent::FetchedArtifact> fetched =
        fetcher_->FetchNamed(ref->train_param_hash, LoraArtifactName(ref->step), &cancel);
    if (!fetched.ok()) return agent::FailedOutcome(fetched.status());
    agent::JobOutcome out;
    out.status = agent::JobStatus::kSucceeded;
    out.artifacts.push_back({"image", "application/octet-stream", ReadAll(fetched->path)});
    return out;
  }

 private:
  std::shared_ptr<agent::ArtifactFetcher> fetcher_;
};

std::string TrainSpec() {
  return "name: fetch\n"
         "identity: {name: alice, photos: photos/*.jpg, token: sks person}\n"
         "checkpoint: {sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n"
         "train: {steps: [2, 4]}\n"
         "render:\n"
         "  prompt: \"photo of {token}\"\n"
         "  sampler: Euler\n"
         "  seeds: [1, 2]\n";
}

std::shared_ptr<agent::ArtifactFetcher> MakeFetcher(const fs::path& cache_dir) {
  agent::ArtifactFetcherOptions options;
  options.cache_dir = cache_dir.string();
  options.request_timeout = std::chrono::milliseconds(2000);
  options.deadline = std::chrono::seconds(30);
  auto fetcher = agent::ArtifactFetcher::Create(options);
  EXPECT_TRUE(fetcher.ok()) << fetcher.status().ToString();
  return fetcher.ok() ? *fetcher : nullptr;
}

class ArtifactFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Over two chunks each, so windows, ordering and the last short chunk are exercised.
    checkpoints_ = {{2, Blob((2u << 20) + 12345, 2)}, {4, Blob((1u << 20) + 7, 4)}};
    const fs::path samples = dir_.path() / "samples";
    fs::create_directories(samples / "images");
    std::ofstream(samples / "manifest.json") << "{\"images\": 2}\n";
    std::ofstream(samples / "images" / "000.png") << Blob(3000, 7);
    std::ofstream(samples / "images" / "001.png") << Blob(10, 8);
    auto bundle = agent::BundleFolder(samples.string());
    ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
    samples_ = *bundle;
    farm_ = std::make_unique<LoopbackFarm>(dir_.path());
    auto trainer = std::make_unique<agent::RunnerRegistry>();
    ASSERT_TRUE(
        trainer->Register(std::make_unique<StandInTrainRunner>(checkpoints_, samples_)).ok());
    ASSERT_TRUE(trainer->Register(std::make_unique<StandInPrepareRunner>()).ok());
    farm_->StartAgent("trainer", std::move(trainer), nullptr);
    fetcher_ = MakeFetcher(dir_.path() / "render-cache");
    auto renderer = std::make_unique<agent::RunnerRegistry>();
    ASSERT_TRUE(renderer->Register(std::make_unique<FetchingRenderRunner>(fetcher_)).ok());
    farm_->StartAgent("renderer", std::move(renderer), fetcher_, 2);
    FakeResolver resolver;
    auto submitted = farm_->Submit(TrainSpec(), resolver);
    ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
    sweep_id_ = submitted->sweep_id;
    ASSERT_TRUE(farm_->WaitForSweep(sweep_id_, std::chrono::seconds(60)));
    farm_->Call([&](Coordinator& c) {
      store::JobFilter filter;
      filter.sweep_id = sweep_id_;
      filter.kind = store::JobKind::kTrain;
      auto train = c.store().ListJobs(filter);
      ASSERT_TRUE(train.ok() && train->size() == 1);
      train_hash_ = (*train)[0].param_hash;
    });
  }

  TempDir dir_;
  std::map<int, std::string> checkpoints_;
  std::string samples_;  // a folder bundle
  std::unique_ptr<LoopbackFarm> farm_;
  std::shared_ptr<agent::ArtifactFetcher> fetcher_;
  std::int64_t sweep_id_ = 0;
  std::string train_hash_;
};

TEST_F(ArtifactFetchTest, RenderJobsGetTheirTrainJobsLoraByteIdenticalOncePerAgent) {
  int renders = 0;
  farm_->Call([&](Coordinator& c) {
    store::JobFilter filter;
    filter.sweep_id = sweep_id_;
    auto jobs = c.store().ListJobs(filter);
    ASSERT_TRUE(jobs.ok());
    for (const store::Job& job : *jobs) {
      EXPECT_EQ(job.state, store::JobState::kSucceeded) << job.id << " " << job.last_error;
      if (job.kind != store::JobKind::kRender) continue;
      ++renders;
      auto params = RenderParamsFromJson(job.params_json);
      ASSERT_TRUE(params.ok());
      auto ref = ParseTrainedLoraRef(params->loras.at(0).ref);
      ASSERT_TRUE(ref.ok()) << ref.status().ToString();
      EXPECT_EQ(ref->train_param_hash, train_hash_);
      // What the render agent read from its cache is what the trainer uploaded.
      auto outputs = c.store().ListJobArtifacts(job.id);
      ASSERT_TRUE(outputs.ok() && outputs->size() == 1);
      EXPECT_EQ((*outputs)[0].artifact.sha256, Sha256Hex(checkpoints_.at(ref->step)));
    }
    // farmd records the train job's outputs by name.
    auto lora = c.store().FindJobArtifact(train_hash_, "lora@2");
    ASSERT_TRUE(lora.ok()) << lora.status().ToString();
    EXPECT_EQ(lora->artifact.sha256, Sha256Hex(checkpoints_.at(2)));
  });
  EXPECT_EQ(renders, 4);
  const agent::FetcherStats stats = fetcher_->stats();
  EXPECT_EQ(stats.downloads, 2u);  // two checkpoints, each fetched once for two seeds
  EXPECT_EQ(stats.cache_hits, 2u);
  EXPECT_EQ(stats.bytes_downloaded, checkpoints_[2].size() + checkpoints_[4].size());
  for (const auto& [step, bytes] : checkpoints_) {
    EXPECT_EQ(ReadAll(dir_.path() / "render-cache" / "artifacts" / Sha256Hex(bytes)), bytes);
  }
}

TEST_F(ArtifactFetchTest, UnknownHashesAndNamesAreClearErrors) {
  const std::string unknown = Sha256Hex("never uploaded");
  auto missing = fetcher_->Fetch(unknown);
  ASSERT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("farmd has no artifact " + unknown), std::string::npos)
      << missing.status().message();

  auto no_job = fetcher_->Resolve(Sha256Hex("no such job"), "lora@2");
  ASSERT_EQ(no_job.status().code(), StatusCode::kNotFound) << no_job.status().ToString();
  EXPECT_NE(no_job.status().message().find("no job with that param_hash"), std::string::npos)
      << no_job.status().message();

  auto no_step = fetcher_->Resolve(train_hash_, "lora@3");
  ASSERT_EQ(no_step.status().code(), StatusCode::kNotFound) << no_step.status().ToString();
  EXPECT_NE(no_step.status().message().find("lora@2, lora@4, samples"), std::string::npos)
      << no_step.status().message();

  EXPECT_EQ(fetcher_->Fetch("not-a-hash").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ArtifactFetchTest, FolderBundlesArriveUnpacked) {
  auto info = fetcher_->Resolve(train_hash_, "samples");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->sha256(), Sha256Hex(samples_));
  EXPECT_EQ(info->media_type(), "application/x-tar");
  auto folder = fetcher_->FetchFolder(info->sha256());
  ASSERT_TRUE(folder.ok()) << folder.status().ToString();
  EXPECT_EQ(ReadAll(fs::path(*folder) / "images" / "000.png"), Blob(3000, 7));
  EXPECT_EQ(ReadAll(fs::path(*folder) / "images" / "001.png"), Blob(10, 8));
  EXPECT_EQ(ReadAll(fs::path(*folder) / "manifest.json"), "{\"images\": 2}\n");
  // Unpacked once: the second call finds the folder.
  const auto downloads = fetcher_->stats().downloads;
  auto again = fetcher_->FetchFolder(info->sha256());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *folder);
  EXPECT_EQ(fetcher_->stats().downloads, downloads);
}

TEST_F(ArtifactFetchTest, DamagedCacheFilesAreDetectedAndFetchedAgain) {
  const std::string& bytes = checkpoints_.at(2);
  const fs::path cached = dir_.path() / "render-cache" / "artifacts" / Sha256Hex(bytes);
  ASSERT_TRUE(fs::exists(cached));

  // One byte flipped, size kept, seen by a fresh fetcher on the same folder (a restart).
  {
    std::fstream file(cached, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(1000);
    file.put(static_cast<char>(bytes[1000] ^ 0x5a));
  }
  auto restarted = MakeFetcher(dir_.path() / "render-cache");
  auto runners = std::make_unique<agent::RunnerRegistry>();
  ASSERT_TRUE(runners->Register(std::make_unique<FetchingRenderRunner>(restarted)).ok());
  farm_->StartAgent("renderer-2", std::move(runners), restarted);
  for (int i = 0; i < 500 && !restarted->attached(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto again = restarted->FetchNamed(train_hash_, "lora@2");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->from_cache);
  EXPECT_EQ(ReadAll(again->path), bytes);
  EXPECT_EQ(restarted->stats().damaged_in_cache, 1u);
  EXPECT_EQ(restarted->stats().downloads, 1u);

  // Truncated under a fetcher that verified it before: caught by the changed size.
  fs::resize_file(cached, 10);
  auto third = restarted->FetchNamed(train_hash_, "lora@2");
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(ReadAll(third->path), bytes);
  EXPECT_EQ(restarted->stats().damaged_in_cache, 2u);

  // Intact: from the cache, nothing downloaded.
  auto fourth = restarted->FetchNamed(train_hash_, "lora@2");
  ASSERT_TRUE(fourth.ok());
  EXPECT_TRUE(fourth->from_cache);
  EXPECT_EQ(restarted->stats().downloads, 2u);
}

}  // namespace
}  // namespace farm::farmd::testing
