#include "farm/agent/render_runner.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "farm/agent/faces_artifact.h"
#include "farm/faceid/pipeline.h"
#include "farm/image/png_io.h"
#include "farm/pipeline/pose_regions.h"
#include "farm/pipeline/recipe.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"
#include "farm/schemas/trained_lora.h"
#include "farm/sd/engine.h"
#include "farm/sd/lora_file.h"

namespace farm::agent {
namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// One loaded engine; the recipe mutates it (LoRAs, checkpoint), so one render at a time.
struct EngineSlot {
  std::shared_ptr<sd::Engine> engine;
  std::mutex mu;
};

double Seconds(Clock::time_point from) {
  return std::chrono::duration<double>(Clock::now() - from).count();
}

JobOutcome Failed(const Status& status) { return FailedOutcome(status); }

faceid::RgbImage ToRgb(const image::Image& image) {
  faceid::RgbImage rgb;
  rgb.width = image.width;
  rgb.height = image.height;
  rgb.rgb.reserve(static_cast<size_t>(image.width) * image.height * 3);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = image.at(x, y);
      for (int c = 0; c < 3; ++c) rgb.rgb.push_back(image.channels >= 3 ? p[c] : p[0]);
    }
  }
  return rgb;
}

// A LoRA ref's file: by hash from the models dir, or a trained one from `trained`.
StatusOr<ModelEntry> ResolveLora(const std::string& ref, const ModelIndex& index,
                                 TrainedLoraSource* trained, const CancellationToken& cancel) {
  if (!ref.starts_with("train:") || trained == nullptr) return index.ResolveLoraRef(ref);
  FARM_ASSIGN_OR_RETURN(TrainedLoraRef parsed, ParseTrainedLoraRef(ref));
  return trained->Resolve(parsed, cancel);
}

// The cache key of an engine: its checkpoint, with a separate VAE file "<checkpoint>+<vae>"
// (an engine holds the VAE it was loaded with).
std::string EngineKey(const RenderParams& params) {
  return params.vae_sha256.empty() ? params.checkpoint_sha256 : params.checkpoint_sha256 + "+" + params.vae_sha256;
}

// The models' files; `lora_sha256` gets each LoRA's content hash (index-aligned), `vae_path`
// the separate VAE file (empty without one).
StatusOr<pipeline::ModelPaths> ResolveModels(const RenderParams& params, const ModelIndex& index,
                                             const RenderRunnerOptions& options,
                                             const CancellationToken& cancel,
                                             std::vector<std::string>* lora_sha256, std::string* vae_path) {
  pipeline::ModelPaths paths;
  FARM_ASSIGN_OR_RETURN(ModelEntry checkpoint, index.Find(params.checkpoint_sha256));
  paths.checkpoint = checkpoint.path;
  if (!params.vae_sha256.empty()) {
    StatusOr<ModelEntry> vae = index.Find(params.vae_sha256);
    if (!vae.ok()) return vae.status().WithContext("VAE");
    *vae_path = vae->path;
  }
  for (const LoraRef& lora : params.loras) {
    StatusOr<ModelEntry> entry =
        ResolveLora(lora.ref, index, options.trained_loras.get(), cancel);
    if (!entry.ok()) return entry.status().WithContext("LoRA " + lora.ref);
    paths.loras.emplace_back(entry->path, lora.weight);
    lora_sha256->push_back(entry->sha256);
  }
  for (const auto& [name, sha256] : params.embeddings) {
    StatusOr<ModelEntry> entry = index.Find(sha256);
    if (!entry.ok()) return entry.status().WithContext("embedding '" + name + "'");
    paths.embeddings[name] = entry->path;
  }
  for (const ControlNetUnit& unit : params.controlnets) {
    StatusOr<ModelEntry> entry = index.Find(unit.model_sha256);
    if (!entry.ok()) return entry.status().WithContext("ControlNet (" + unit.input + ")");
    paths.controlnets[unit.model_sha256] = entry->path;
  }
  paths.face_models_dir = options.face_models_dir;
  paths.poses_dir = options.poses_dir;
  paths.tones_yaml = options.tones_yaml;
  return paths;
}

}  // namespace

RenderRunner::RenderRunner(RenderRunnerOptions options)
    : options_(std::move(options)), cache_(options_.cache_budget_bytes) {}

RenderRunner::~RenderRunner() = default;

std::vector<std::string> RenderRunner::held_models() const {
  // An engine with a separate VAE holds two files: "<checkpoint>+<vae>" reports both.
  std::vector<std::string> held;
  for (const std::string& key : cache_.keys()) {
    const size_t plus = key.find('+');
    held.push_back(key.substr(0, plus));
    if (plus != std::string::npos) held.push_back(key.substr(plus + 1));
  }
  std::vector<std::string> unique;
  for (const std::string& sha : held) {
    if (std::find(unique.begin(), unique.end(), sha) == unique.end()) unique.push_back(sha);
  }
  return unique;
}

StatusOr<std::shared_ptr<const faceid::FacePipeline>> RenderRunner::Faces() {
  std::lock_guard<std::mutex> lock(faces_mu_);
  if (!faces_tried_) {
    faces_tried_ = true;
    if (options_.face_models_dir.empty()) {
      faces_status_ = NotFound("no face models directory configured");
    } else {
      StatusOr<faceid::FacePipeline> loaded = faceid::FacePipeline::Load(options_.face_models_dir);
      if (loaded.ok()) {
        faces_ = std::make_shared<const faceid::FacePipeline>(std::move(*loaded));
      } else {
        faces_status_ = loaded.status().WithContext("loading face models");
      }
    }
  }
  if (!faces_) return faces_status_;
  return faces_;
}

StatusOr<std::shared_ptr<const pipeline::RegionFinder>> RenderRunner::Regions() {
  std::lock_guard<std::mutex> lock(regions_mu_);
  if (!regions_tried_) {
    regions_tried_ = true;
    if (options_.pose_models_dir.empty()) {
      regions_status_ = NotFound("no human-models directory configured (tools/setup.sh fetches the models)");
    } else {
      StatusOr<std::shared_ptr<const pipeline::RegionFinder>> loaded =
          pipeline::LoadPoseRegionFinder(options_.pose_models_dir);
      if (loaded.ok()) {
        regions_ = *loaded;
      } else {
        regions_status_ = loaded.status().WithContext("loading the body and hand models");
      }
    }
  }
  if (!regions_) return regions_status_;
  return regions_;
}

JobOutcome RenderRunner::Run(const JobSpec& spec, const ProgressFn& progress,
                             const CancellationToken& cancel) {
  const Clock::time_point start = Clock::now();
  if (!options_.models) return Failed(FailedPrecondition("render runner has no model index"));
  if (cancel.stop_requested()) {
    JobOutcome out;
    out.status = JobStatus::kCancelled;
    out.error = "cancelled before start";
    return out;
  }
  StatusOr<RenderParams> params = RenderParamsFromJson(spec.params_json);
  if (!params.ok()) return Failed(params.status().WithContext("render params"));
  std::vector<std::string> lora_sha256;
  std::string vae_path;
  StatusOr<pipeline::ModelPaths> paths =
      ResolveModels(*params, *options_.models, options_, cancel, &lora_sha256, &vae_path);
  if (cancel.stop_requested()) {  // e.g. while a trained LoRA was being fetched
    JobOutcome out;
    out.status = JobStatus::kCancelled;
    out.error = "cancelled while resolving models";
    return out;
  }
  if (!paths.ok()) return Failed(paths.status());

  // LoRA files stay read between jobs in the same LRU as the engines (keyed by sha256).
  int models_from_cache = 0, models_loaded = 0;
  for (size_t i = 0; i < params->loras.size(); ++i) {
    const LoraRef& lora = params->loras[i];
    const std::string sha = lora_sha256[i].empty() ? lora.ref : lora_sha256[i];
    const std::string path = paths->loras[i].first;
    bool lora_hit = false;
    StatusOr<std::shared_ptr<void>> file = cache_.Get(
        sha,
        [&path]() -> StatusOr<CachedModel> {
          FARM_ASSIGN_OR_RETURN(sd::LoraFile read, sd::ReadLoraFile(path));
          std::error_code ec;
          const auto size = std::filesystem::file_size(path, ec);
          return CachedModel{std::make_shared<sd::LoraFile>(std::move(read)),
                             ec ? 0 : static_cast<std::uint64_t>(size)};
        },
        &lora_hit);
    if (!file.ok()) return Failed(file.status().WithContext("LoRA " + lora.ref));
    paths->lora_files[path] = std::static_pointer_cast<const sd::LoraFile>(*file);
    ++(lora_hit ? models_from_cache : models_loaded);
  }

  // A detailer of target face needs the face models, of target hands or person the pose models.
  bool needs_faces = false, needs_regions = false;
  for (const StageSettings& stage : params->stages) {
    if (stage.kind != "detailer") continue;
    const auto target = stage.settings.find("target");
    const std::string* name = target == stage.settings.end() ? nullptr : std::get_if<std::string>(&target->second);
    (name == nullptr || *name == "face" ? needs_faces : needs_regions) = true;
  }
  StatusOr<std::shared_ptr<const faceid::FacePipeline>> faces = Faces();
  if (needs_faces && !faces.ok()) return Failed(faces.status().WithContext("detailer"));
  std::shared_ptr<const pipeline::RegionFinder> regions;
  if (needs_regions) {
    StatusOr<std::shared_ptr<const pipeline::RegionFinder>> loaded = Regions();
    if (!loaded.ok()) return Failed(loaded.status().WithContext("detailer"));
    regions = *loaded;
  }

  // The engine for this checkpoint, loaded once and kept while the budget allows.
  if (progress) progress({"load", 0, 1, "loading " + ShortHash(params->checkpoint_sha256)});
  const Clock::time_point load_start = Clock::now();
  bool hit = false;
  const std::string checkpoint_path = paths->checkpoint;
  const int threads = static_cast<int>(spec.compute_threads);
  const std::string device = options_.device;
  StatusOr<std::shared_ptr<void>> cached = cache_.Get(
      EngineKey(*params),
      [&]() -> StatusOr<CachedModel> {
        sd::EngineOptions engine_options;
        engine_options.checkpoint = checkpoint_path;
        engine_options.vae = vae_path;
        engine_options.device = device;
        engine_options.threads = threads;
        FARM_ASSIGN_OR_RETURN(std::unique_ptr<sd::Engine> engine, sd::Engine::Load(engine_options));
        auto slot = std::make_shared<EngineSlot>();
        slot->engine = std::shared_ptr<sd::Engine>(std::move(engine));
        std::error_code ec;
        const auto size = std::filesystem::file_size(checkpoint_path, ec);
        return CachedModel{slot, ec ? 0 : static_cast<std::uint64_t>(size)};
      },
      &hit);
  if (!cached.ok()) return Failed(cached.status());
  ++(hit ? models_from_cache : models_loaded);
  const double load_seconds = Seconds(load_start);
  auto slot = std::static_pointer_cast<EngineSlot>(*cached);

  std::map<std::string, double> stage_seconds;
  std::string current_stage;
  Clock::time_point stage_start = Clock::now();
  pipeline::RecipeOptions recipe_options;
  recipe_options.keep_stage_images = options_.keep_stage_images;
  recipe_options.param_hash = spec.param_hash;
  recipe_options.render_id = spec.job_id ? "job-" + std::to_string(spec.job_id) : "";
  recipe_options.progress = [&](const std::string& stage, int step, int total) {
    if (stage != current_stage) {
      if (!current_stage.empty()) stage_seconds[current_stage] += Seconds(stage_start);
      current_stage = stage;
      stage_start = Clock::now();
    }
    if (progress) {
      progress({stage, static_cast<uint32_t>(step < 0 ? 0 : step),
                static_cast<uint32_t>(total < 0 ? 0 : total), ""});
    }
  };
  recipe_options.cancelled = [&cancel] { return cancel.stop_requested(); };

  StatusOr<pipeline::RecipeResult> result = Internal("not run");
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    if (cancel.stop_requested()) {
      JobOutcome out;
      out.status = JobStatus::kCancelled;
      return out;
    }
    pipeline::RecipeRunner runner(slot->engine, faces.ok() ? *faces : nullptr, regions);
    result = runner.Run(*params, *paths, recipe_options);
  }
  if (!current_stage.empty()) stage_seconds[current_stage] += Seconds(stage_start);
  if (cancel.stop_requested()) {
    JobOutcome out;
    out.status = JobStatus::kCancelled;
    out.error = "cancelled";
    return out;
  }
  if (!result.ok()) return Failed(result.status().WithContext("render"));

  JobOutcome out;
  out.status = JobStatus::kSucceeded;
  out.artifacts.push_back({"image", "image/png", std::move(result->png)});
  // The record names each LoRA's file by content, so a render with "train:<hash>@<step>"
  // says which trained checkpoint it used.
  nlohmann::json record = nlohmann::json::parse(result->record_json, nullptr, false);
  if (record.is_object()) {
    nlohmann::json loras = nlohmann::json::array();
    for (size_t i = 0; i < params->loras.size(); ++i) {
      loras.push_back({{"ref", params->loras[i].ref}, {"sha256", lora_sha256[i]}, {"weight", params->loras[i].weight}});
    }
    record["loras"] = std::move(loras);
    result->record_json = record.dump();
  }
  out.artifacts.push_back({"record", "application/json", std::move(result->record_json)});
  for (const pipeline::StageImage& stage : result->stages) {
    StatusOr<std::string> png = image::EncodePng(stage.image);
    if (!png.ok()) return Failed(png.status().WithContext("stage image " + stage.stage));
    out.artifacts.push_back({"stage/" + stage.stage, "image/png", std::move(*png)});
  }
  // Inline face step: the final image's faces and descriptors, for face-ID scoring.
  if (faces.ok()) {
    if (progress) progress({"faces", 0, 1, ""});
    const Clock::time_point faces_start = Clock::now();
    StatusOr<FacesArtifact> found = MakeFacesArtifact(**faces, ToRgb(result->image));
    if (!found.ok()) return Failed(found.status().WithContext("face embedding of the render"));
    out.artifacts.push_back({"faces", "application/json", std::move(found->json)});
    out.metrics["faces_found"] = static_cast<double>(found->faces);
    stage_seconds["faces"] += Seconds(faces_start);
  }
  out.metrics["faces_detailed"] = result->faces_detailed;
  for (const auto& [model, seconds] : result->model_seconds) out.metrics["seconds_in_" + model] = seconds;
  out.metrics["model_cache_hit"] = hit ? 1.0 : 0.0;
  out.metrics["models_from_cache"] = models_from_cache;
  out.metrics["models_loaded"] = models_loaded;
  out.metrics["seconds_load"] = load_seconds;
  for (const auto& [stage, seconds] : stage_seconds) out.metrics["seconds_" + stage] = seconds;
  out.metrics["seconds_total"] = Seconds(start);
  return out;
}

}  // namespace farm::agent
