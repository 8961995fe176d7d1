// RenderRunner on the tiny random model: 64x64, 2 steps (a few seconds on 2 cores).
#include "farm/agent/render_runner.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "farm/image/png_io.h"
#include "farm/image/png_parameters.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/tiny_model.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;

class RenderRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("render_runner_test_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    auto files = sd::MakeTinyModel(dir_->string(), 1);
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    auto hash = Sha256File(files->checkpoint);
    ASSERT_TRUE(hash.ok());
    checkpoint_sha256_ = new std::string(*hash);
    auto lora = Sha256File(files->lora);
    ASSERT_TRUE(lora.ok());
    lora_sha256_ = new std::string(*lora);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete checkpoint_sha256_;
    delete lora_sha256_;
  }

  std::unique_ptr<RenderRunner> MakeRunner() {
    auto index = ModelIndex::Build({dir_->string(), ""});
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    RenderRunnerOptions options;
    options.models = std::make_shared<const ModelIndex>(std::move(*index));
    options.cache_budget_bytes = 1ull << 30;
    return std::make_unique<RenderRunner>(std::move(options));
  }

  static RenderParams Params(uint64_t seed) {
    RenderParams p;
    p.prompt = "studio portrait photo";
    p.negative_prompt = "blurry";
    p.seed = seed;
    p.sampler = "Euler";
    p.scheduler = "normal";
    p.steps = 2;
    p.cfg = 7;
    p.width = 64;
    p.height = 64;
    p.checkpoint_sha256 = *checkpoint_sha256_;
    return p;
  }

  static JobSpec Spec(const RenderParams& params) {
    JobSpec spec;
    spec.job_id = 1;
    spec.attempt = 1;
    spec.kind = studiofarm::v1::JOB_KIND_RENDER;
    spec.params_json = *ToCanonicalJson(params);
    spec.param_hash = *ParamHash(params);
    return spec;
  }

  static const OutputArtifact* Find(const JobOutcome& outcome, const std::string& name) {
    for (const OutputArtifact& a : outcome.artifacts) {
      if (a.name == name) return &a;
    }
    return nullptr;
  }

  static fs::path* dir_;
  static std::string* checkpoint_sha256_;
  static std::string* lora_sha256_;
};
fs::path* RenderRunnerTest::dir_ = nullptr;
std::string* RenderRunnerTest::checkpoint_sha256_ = nullptr;
std::string* RenderRunnerTest::lora_sha256_ = nullptr;

TEST_F(RenderRunnerTest, RendersPngAndKeepsTheEngineLoaded) {
  auto runner = MakeRunner();
  CancellationToken cancel;
  std::vector<std::string> stages;
  ProgressFn progress = [&](const ProgressUpdate& u) {
    if (stages.empty() || stages.back() != u.stage) stages.push_back(u.stage);
  };
  JobOutcome first = runner->Run(Spec(Params(5)), progress, cancel);
  ASSERT_EQ(first.status, JobStatus::kSucceeded) << first.error;
  const OutputArtifact* image = Find(first, "image");
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(image->media_type, "image/png");
  auto decoded = image::DecodePng(image->bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->width, 64);
  EXPECT_EQ(decoded->height, 64);
  EXPECT_EQ(first.metrics.at("model_cache_hit"), 0.0);
  EXPECT_GT(first.metrics.at("seconds_total"), 0.0);
  ASSERT_FALSE(stages.empty());
  EXPECT_EQ(stages.front(), "load");
  EXPECT_EQ(Find(first, "faces"), nullptr);  // no face models configured
  const OutputArtifact* record = Find(first, "record");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->media_type, "application/json");
  EXPECT_NE(record->bytes.find("\"stages\""), std::string::npos) << record->bytes;

  // Same params again: engine from the cache, same pixels.
  JobOutcome again = runner->Run(Spec(Params(5)), nullptr, cancel);
  ASSERT_EQ(again.status, JobStatus::kSucceeded) << again.error;
  EXPECT_EQ(again.metrics.at("model_cache_hit"), 1.0);
  auto decoded_again = image::DecodePng(Find(again, "image")->bytes);
  ASSERT_TRUE(decoded_again.ok());
  EXPECT_EQ(decoded_again->pixels, decoded->pixels);
  EXPECT_EQ(runner->held_models(), std::vector<std::string>{*checkpoint_sha256_});

  // Another seed: other pixels.
  JobOutcome other = runner->Run(Spec(Params(6)), nullptr, cancel);
  ASSERT_EQ(other.status, JobStatus::kSucceeded) << other.error;
  EXPECT_NE(image::DecodePng(Find(other, "image")->bytes)->pixels, decoded->pixels);
}

TEST_F(RenderRunnerTest, KeepsLoraFilesReadAndReportsWhatItHolds) {
  auto runner = MakeRunner();
  CancellationToken cancel;
  RenderParams params = Params(3);
  params.loras.push_back({"sha256:" + *lora_sha256_, 0.8});
  JobOutcome first = runner->Run(Spec(params), nullptr, cancel);
  ASSERT_EQ(first.status, JobStatus::kSucceeded) << first.error;
  EXPECT_EQ(first.metrics.at("models_loaded"), 2.0);  // checkpoint and LoRA
  EXPECT_EQ(first.metrics.at("models_from_cache"), 0.0);
  EXPECT_GT(first.metrics.at("seconds_in_unet"), 0.0);
  EXPECT_GT(first.metrics.at("seconds_in_vae"), 0.0);
  std::vector<std::string> held = runner->held_models();
  std::sort(held.begin(), held.end());
  std::vector<std::string> expected = {*checkpoint_sha256_, *lora_sha256_};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(held, expected);
  // The record names the LoRA file by content.
  const auto record = nlohmann::json::parse(Find(first, "record")->bytes, nullptr, false);
  ASSERT_TRUE(record.is_object() && record["loras"].is_array() && record["loras"].size() == 1)
      << Find(first, "record")->bytes;
  EXPECT_EQ(record["loras"][0].value("sha256", ""), *lora_sha256_);
  EXPECT_DOUBLE_EQ(record["loras"][0].value("weight", 0.0), 0.8);

  JobOutcome again = runner->Run(Spec(params), nullptr, cancel);
  ASSERT_EQ(again.status, JobStatus::kSucceeded) << again.error;
  EXPECT_EQ(again.metrics.at("models_from_cache"), 2.0);
  EXPECT_EQ(again.metrics.at("models_loaded"), 0.0);
  // The cached LoRA file gives the same pixels as a freshly read one, and it changes them.
  EXPECT_EQ(Find(again, "image")->bytes, Find(first, "image")->bytes);
  JobOutcome plain = runner->Run(Spec(Params(3)), nullptr, cancel);
  ASSERT_EQ(plain.status, JobStatus::kSucceeded) << plain.error;
  EXPECT_NE(image::DecodePng(Find(plain, "image")->bytes)->pixels,
            image::DecodePng(Find(first, "image")->bytes)->pixels);
}

TEST_F(RenderRunnerTest, SeparateVaeIsResolvedByHashRecordedAndHeld) {
  // A VAE file (the tiny checkpoint's decoder, scaled) and a checkpoint that carries it.
  const std::string checkpoint = (*dir_ / "tiny-sd15.safetensors").string();
  auto file = sd::SafetensorsFile::Open(checkpoint);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto raw = sd::ReadSafetensors(checkpoint);
  ASSERT_TRUE(raw.ok());
  sd::TensorMap vae, merged = *raw;
  for (const auto& [key, tensor] : *raw) {
    if (!key.starts_with("first_stage_model.")) continue;
    merged[key] = key.find(".decoder.") != std::string::npos ? tensor * 1.25 : tensor;
    vae[key.substr(std::string("first_stage_model.").size())] = merged[key];
  }
  fs::create_directories(*dir_ / "vae");
  const std::string vae_path = (*dir_ / "vae" / "tiny_vae.safetensors").string();
  const std::string merged_path = (*dir_ / "tiny_merged_vae.safetensors").string();
  ASSERT_TRUE(sd::WriteSafetensors(vae_path, vae).ok());
  ASSERT_TRUE(sd::WriteSafetensors(merged_path, merged, (*file)->metadata()).ok());
  const std::string vae_sha256 = *Sha256File(vae_path);

  auto runner = MakeRunner();
  CancellationToken cancel;
  RenderParams params = Params(5);
  params.vae_sha256 = vae_sha256;
  JobOutcome with_vae = runner->Run(Spec(params), nullptr, cancel);
  ASSERT_EQ(with_vae.status, JobStatus::kSucceeded) << with_vae.error;
  JobOutcome plain = runner->Run(Spec(Params(5)), nullptr, cancel);
  ASSERT_EQ(plain.status, JobStatus::kSucceeded) << plain.error;
  RenderParams carried_params = Params(5);
  carried_params.checkpoint_sha256 = *Sha256File(merged_path);
  JobOutcome carried = runner->Run(Spec(carried_params), nullptr, cancel);
  ASSERT_EQ(carried.status, JobStatus::kSucceeded) << carried.error;

  const auto pixels = [&](const JobOutcome& outcome) { return image::DecodePng(Find(outcome, "image")->bytes)->pixels; };
  EXPECT_NE(pixels(with_vae), pixels(plain));
  EXPECT_EQ(pixels(with_vae), pixels(carried));
  // The engine with the VAE is another cache entry than the plain one; both files count as held.
  EXPECT_EQ(plain.metrics.at("model_cache_hit"), 0.0);
  std::vector<std::string> held = runner->held_models();
  EXPECT_NE(std::find(held.begin(), held.end(), vae_sha256), held.end());
  EXPECT_NE(std::find(held.begin(), held.end(), *checkpoint_sha256_), held.end());
  for (const std::string& sha : held) EXPECT_EQ(sha.size(), 64u) << sha;

  auto infotext = image::ReadPngParameters(Find(with_vae, "image")->bytes);
  ASSERT_TRUE(infotext.ok() && infotext->has_value());
  ASSERT_NE((*infotext)->Find("VAE hash"), nullptr);
  EXPECT_EQ(*(*infotext)->Find("VAE hash"), vae_sha256.substr(0, 10));
  auto plain_infotext = image::ReadPngParameters(Find(plain, "image")->bytes);
  ASSERT_TRUE(plain_infotext.ok() && plain_infotext->has_value());
  EXPECT_EQ((*plain_infotext)->Find("VAE hash"), nullptr);

  // A VAE hash the agent does not have fails the job naming it.
  params.vae_sha256 = std::string(64, 'e');
  JobOutcome unknown = runner->Run(Spec(params), nullptr, cancel);
  EXPECT_EQ(unknown.status, JobStatus::kFailed);
  EXPECT_NE(unknown.error.find(std::string(64, 'e')), std::string::npos) << unknown.error;
  EXPECT_NE(unknown.error.find("VAE"), std::string::npos) << unknown.error;
  fs::remove_all(*dir_ / "vae");
  fs::remove(merged_path);
}

TEST_F(RenderRunnerTest, EmbeddingsAreResolvedByHashUsedByNameAndListedAsTiHashes) {
  const std::string checkpoint = (*dir_ / "tiny-sd15.safetensors").string();
  auto file = sd::SafetensorsFile::Open(checkpoint);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const sd::TensorInfo* table =
      (*file)->Find("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight");
  ASSERT_NE(table, nullptr);
  at::Generator generator = at::detail::createCPUGenerator(3);
  fs::create_directories(*dir_ / "embeddings");
  const std::string path = (*dir_ / "embeddings" / "tiface.safetensors").string();
  ASSERT_TRUE(sd::WriteSafetensors(path, {{"emb_params", at::randn({2, table->shape[1]}, generator) * 0.02}}).ok());
  const std::string sha256 = *Sha256File(path);

  auto runner = MakeRunner();
  CancellationToken cancel;
  RenderParams words = Params(5);
  words.prompt = "studio portrait photo of tiface";
  RenderParams with = words;
  with.embeddings["tiface"] = sha256;
  RenderParams unused = Params(5);
  unused.embeddings["tiface"] = sha256;
  JobOutcome as_words = runner->Run(Spec(words), nullptr, cancel);
  JobOutcome as_embedding = runner->Run(Spec(with), nullptr, cancel);
  JobOutcome not_named = runner->Run(Spec(unused), nullptr, cancel);
  JobOutcome plain = runner->Run(Spec(Params(5)), nullptr, cancel);
  for (const JobOutcome* outcome : {&as_words, &as_embedding, &not_named, &plain}) {
    ASSERT_EQ(outcome->status, JobStatus::kSucceeded) << outcome->error;
  }
  const auto pixels = [&](const JobOutcome& outcome) { return image::DecodePng(Find(outcome, "image")->bytes)->pixels; };
  EXPECT_NE(pixels(as_embedding), pixels(as_words));
  EXPECT_EQ(pixels(not_named), pixels(plain));

  auto infotext = image::ReadPngParameters(Find(as_embedding, "image")->bytes);
  ASSERT_TRUE(infotext.ok() && infotext->has_value());
  ASSERT_NE((*infotext)->Find("TI hashes"), nullptr);
  EXPECT_EQ(*(*infotext)->Find("TI hashes"), "tiface: " + sha256.substr(0, 12));
  // Available but not named in a prompt: A1111 lists only the embeddings a prompt used.
  auto unused_infotext = image::ReadPngParameters(Find(not_named, "image")->bytes);
  ASSERT_TRUE(unused_infotext.ok() && unused_infotext->has_value());
  EXPECT_EQ((*unused_infotext)->Find("TI hashes"), nullptr);

  with.embeddings["tiface"] = std::string(64, 'c');
  JobOutcome unknown = runner->Run(Spec(with), nullptr, cancel);
  EXPECT_EQ(unknown.status, JobStatus::kFailed);
  EXPECT_NE(unknown.error.find("embedding 'tiface'"), std::string::npos) << unknown.error;
  EXPECT_NE(unknown.error.find(std::string(64, 'c')), std::string::npos) << unknown.error;
  fs::remove_all(*dir_ / "embeddings");
}

TEST_F(RenderRunnerTest, UnknownCheckpointFailsNamingTheHash) {
  auto runner = MakeRunner();
  RenderParams params = Params(1);
  params.checkpoint_sha256 = std::string(64, 'a');
  CancellationToken cancel;
  JobOutcome outcome = runner->Run(Spec(params), nullptr, cancel);
  EXPECT_EQ(outcome.status, JobStatus::kFailed);
  EXPECT_NE(outcome.error.find(std::string(64, 'a')), std::string::npos) << outcome.error;
}

TEST_F(RenderRunnerTest, BadParamsAndTrainedLorasFailCleanly) {
  auto runner = MakeRunner();
  CancellationToken cancel;
  JobSpec spec = Spec(Params(1));
  spec.params_json = "{not json";
  EXPECT_EQ(runner->Run(spec, nullptr, cancel).status, JobStatus::kFailed);

  RenderParams params = Params(1);
  params.loras.push_back({"train:abc@20", 0.8});
  JobOutcome outcome = runner->Run(Spec(params), nullptr, cancel);
  EXPECT_EQ(outcome.status, JobStatus::kFailed);
  EXPECT_NE(outcome.error.find("train:abc@20"), std::string::npos) << outcome.error;
}

// A trained LoRA ("train:<hash>@<step>") comes from the runner's TrainedLoraSource (the
// agent's fetch from farmd), here a stand-in that serves the tiny model's LoRA file.
class OneTrainedLora : public TrainedLoraSource {
 public:
  OneTrainedLora(std::string path, std::string sha256) : path_(std::move(path)), sha256_(std::move(sha256)) {}
  StatusOr<ModelEntry> Resolve(const TrainedLoraRef& ref, const CancellationToken&) override {
    asked.push_back(ref.train_param_hash + "@" + std::to_string(ref.step));
    if (ref.step != 20) return NotFound("no checkpoint at step " + std::to_string(ref.step));
    return ModelEntry{path_, 0, sha256_};
  }
  std::vector<std::string> asked;

 private:
  std::string path_, sha256_;
};

TEST_F(RenderRunnerTest, TrainedLorasComeFromTheTrainedLoraSource) {
  const std::string train_hash = Sha256Hex("a train job");
  auto index = ModelIndex::Build({dir_->string(), ""});
  ASSERT_TRUE(index.ok());
  const std::string lora_path = index->Find(*lora_sha256_)->path;
  auto source = std::make_shared<OneTrainedLora>(lora_path, *lora_sha256_);
  RenderRunnerOptions options;
  options.models = std::make_shared<const ModelIndex>(std::move(*index));
  options.trained_loras = source;
  RenderRunner runner(std::move(options));
  CancellationToken cancel;

  RenderParams trained = Params(3);
  trained.loras.push_back({"train:" + train_hash + "@20", 0.8});
  JobOutcome outcome = runner.Run(Spec(trained), nullptr, cancel);
  ASSERT_EQ(outcome.status, JobStatus::kSucceeded) << outcome.error;
  EXPECT_EQ(source->asked, std::vector<std::string>{train_hash + "@20"});
  // Kept loaded under its content hash, like a LoRA named by sha256.
  const std::vector<std::string> held = runner.held_models();
  EXPECT_NE(std::find(held.begin(), held.end(), *lora_sha256_), held.end());

  // The same file named by hash gives the same pixels.
  RenderParams by_hash = Params(3);
  by_hash.loras.push_back({"sha256:" + *lora_sha256_, 0.8});
  JobOutcome same = runner.Run(Spec(by_hash), nullptr, cancel);
  ASSERT_EQ(same.status, JobStatus::kSucceeded) << same.error;
  EXPECT_EQ(image::DecodePng(Find(same, "image")->bytes)->pixels,
            image::DecodePng(Find(outcome, "image")->bytes)->pixels);

  // A step the train job did not save fails with the source's error.
  RenderParams missing = Params(3);
  missing.loras.push_back({"train:" + train_hash + "@30", 0.8});
  JobOutcome failed = runner.Run(Spec(missing), nullptr, cancel);
  EXPECT_EQ(failed.status, JobStatus::kFailed);
  EXPECT_NE(failed.error.find("no checkpoint at step 30"), std::string::npos) << failed.error;
}

TEST_F(RenderRunnerTest, CancelledJobStops) {
  auto runner = MakeRunner();
  CancellationToken cancel;
  cancel.Request(CancellationToken::Reason::kCancelled);
  JobOutcome outcome = runner->Run(Spec(Params(1)), nullptr, cancel);
  EXPECT_EQ(outcome.status, JobStatus::kCancelled);
}

// A cancel raised while txt2img reports step 2 ends the render inside the sampler: no
// later step is reported, the job is cancelled (not failed) and the slot renders again.
TEST_F(RenderRunnerTest, CancelDuringTheSamplerStopsAtTheNextStepAsCancelled) {
  auto runner = MakeRunner();
  RenderParams params = Params(7);
  params.steps = 6;
  CancellationToken cancel;
  uint32_t last_step = 0;
  int updates_after_cancel = 0;
  ProgressFn progress = [&](const ProgressUpdate& u) {
    if (cancel.stop_requested()) ++updates_after_cancel;
    if (u.stage != "txt2img") return;
    last_step = std::max(last_step, u.step);
    if (u.step == 2) cancel.Request(CancellationToken::Reason::kCancelled);
  };
  JobOutcome outcome = runner->Run(Spec(params), progress, cancel);
  EXPECT_EQ(outcome.status, JobStatus::kCancelled) << outcome.error;
  EXPECT_TRUE(outcome.artifacts.empty());
  EXPECT_EQ(last_step, 2u);
  EXPECT_EQ(updates_after_cancel, 0);

  CancellationToken fresh;
  JobOutcome again = runner->Run(Spec(params), nullptr, fresh);
  EXPECT_EQ(again.status, JobStatus::kSucceeded) << again.error;
}

}  // namespace
}  // namespace farm::agent
