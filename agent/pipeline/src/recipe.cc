#include "farm/pipeline/recipe.h"

#include <nlohmann/json.hpp>

#include "engine_calls.h"
#include "farm/image/png_parameters.h"
#include "farm/pipeline/stages.h"
#include "farm/sd/textual_inversion.h"
#include "infotext.h"

namespace farm::pipeline {
namespace {

// params.embeddings read from their resolved files, named as the params name them.
StatusOr<std::vector<farm::sd::TextualInversion>> ReadEmbeddings(const farm::RenderParams& params,
                                                                 const ModelPaths& models) {
  std::vector<farm::sd::TextualInversion> out;
  for (const auto& [name, sha256] : params.embeddings) {
    const auto file = models.embeddings.find(name);
    if (file == models.embeddings.end()) {
      return InvalidArgument("embedding '" + name + "' (sha256 " + sha256 + "): no file was resolved for it");
    }
    FARM_ASSIGN_OR_RETURN(farm::sd::TextualInversion embedding, farm::sd::ReadTextualInversion(file->second, name));
    out.push_back(std::move(embedding));
  }
  return out;
}

nlohmann::json SettingsJson(const farm::Settings& settings) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : settings) {
    std::visit([&](const auto& v) { out[key] = v; }, value);
  }
  return out;
}

}  // namespace

RecipeRunner::RecipeRunner(std::shared_ptr<farm::sd::Engine> engine,
                           std::shared_ptr<const farm::faceid::FacePipeline> faces,
                           std::shared_ptr<const RegionFinder> regions)
    : engine_(std::move(engine)), faces_(std::move(faces)), regions_(std::move(regions)) {}

StatusOr<RecipeResult> RecipeRunner::Run(const farm::RenderParams& params, const ModelPaths& models,
                                         const RecipeOptions& options) const {
  if (engine_ == nullptr) return FailedPrecondition("recipe: no engine loaded");
  std::string param_hash = options.param_hash;
  if (param_hash.empty()) {
    FARM_ASSIGN_OR_RETURN(param_hash, farm::ParamHash(params));
  }

  StageContext context;
  context.engine = engine_.get();
  context.faces = faces_.get();
  context.regions = regions_.get();
  context.params = &params;
  context.models = &models;
  context.cancelled = options.cancelled;
  farm::sd::ModelSeconds model_seconds;
  context.model_seconds = &model_seconds;
  FARM_ASSIGN_OR_RETURN(std::vector<farm::sd::TextualInversion> embeddings, ReadEmbeddings(params, models));
  std::vector<std::string> embeddings_used;
  context.embeddings = &embeddings;
  context.embeddings_used = &embeddings_used;

  RecipeResult result;
  nlohmann::json stages = nlohmann::json::array();
  // Every stage announces itself (step 0 of 0) before its work, so per-stage timings
  // also see stages that report no steps (a detailer that finds no face, the tone grade).
  auto set_progress = [&](const std::string& name) {
    context.progress = nullptr;
    if (options.progress) {
      options.progress(name, 0, 0);
      context.progress = [&options, name](int step, int total) { options.progress(name, step, total); };
    }
  };

  set_progress("txt2img");
  FARM_RETURN_IF_ERROR(CheckCancelled(context, "txt2img"));
  FARM_ASSIGN_OR_RETURN(StageRun first, RunTxt2Img(context));
  stages.push_back({{"stage", "txt2img"}, {"kind", "txt2img"}, {"settings", SettingsJson(first.applied)}});
  farm::image::Image image = std::move(first.image);
  if (options.keep_stage_images) result.stages.push_back({"txt2img", image});

  for (size_t i = 0; i < params.stages.size(); ++i) {
    const farm::StageSettings& stage = params.stages[i];
    const std::string name = stage.kind + "#" + std::to_string(i + 1);
    set_progress(name);
    FARM_RETURN_IF_ERROR(CheckCancelled(context, name));
    StatusOr<StageRun> run = InvalidArgument("stages[" + std::to_string(i) + "]: unknown stage kind '" +
                                             stage.kind + "'; expected detailer, img2img, upscale or tone");
    if (stage.kind == "detailer") {
      run = RunDetailer(context, stage.settings, image);
    } else if (stage.kind == "img2img") {
      run = RunImg2Img(context, stage.settings, image);
    } else if (stage.kind == "upscale") {
      run = RunUpscale(context, stage.settings, image);
    } else if (stage.kind == "tone") {
      run = RunTone(context, stage.settings, image);
    }
    if (!run.ok()) return run.status().WithContext("stage " + name);
    result.faces_detailed += run->faces_detailed;
    stages.push_back({{"stage", name}, {"kind", stage.kind}, {"settings", SettingsJson(run->applied)}});
    image = std::move(run->image);
    if (options.keep_stage_images) result.stages.push_back({name, image});
  }

  FARM_ASSIGN_OR_RETURN(farm::image::GenerationParameters info,
                        MakeInfotext(params, models, image, param_hash, options.render_id, embeddings_used));
  FARM_ASSIGN_OR_RETURN(result.png, farm::image::EncodePngWithParameters(image, info));
  nlohmann::json record = {{"param_hash", param_hash},
                           {"render_id", options.render_id},
                           {"engine", params.engine},
                           {"width", image.width},
                           {"height", image.height},
                           {"faces_detailed", result.faces_detailed},
                           {"stages", stages}};
  result.record_json = record.dump();
  result.image = std::move(image);
  result.model_seconds = {{"text", model_seconds.text},
                          {"unet", model_seconds.unet},
                          {"controlnet", model_seconds.controlnet},
                          {"vae", model_seconds.vae}};
  return result;
}

}  // namespace farm::pipeline
