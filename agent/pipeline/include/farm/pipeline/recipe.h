// A render recipe on the agent: txt2img followed by the stages of RenderParams::stages
// (detailer, img2img, upscale, tone), ending in a PNG with the A1111 `parameters` chunk.
//
//   auto engine = std::shared_ptr<farm::sd::Engine>(std::move(loaded));  // Engine::Load gives a unique_ptr
//   RecipeRunner runner(engine, faces, regions); // faces / regions may be null without a
//                                                // detailer stage of target face / hands or person
//   FARM_ASSIGN_OR_RETURN(RecipeResult r, runner.Run(params, models, {}));
//
// The engine is shared so that a worker can keep it loaded between jobs (Engine::Load
// returns a unique_ptr; a shared_ptr takes it over). The caller loads it from
// ModelPaths::checkpoint (the runner does not reload it; the path names the model in the
// infotext). One runner renders one recipe at a time (the engine is not thread-safe).
// Cancellation is FailedPrecondition "render cancelled at <stage>", or "... at step k/n"
// when an engine call notices it between sampler steps (farm::sd::IsRenderCancelled).
// Stage settings come from params.stages[i].settings with the defaults documented in
// stages.h; an unknown key is InvalidArgument naming the stage and the key.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "farm/image/image.h"
#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"

namespace farm::sd {
class Engine;
struct LoraFile;
}
namespace farm::faceid {
class FacePipeline;
}

namespace farm::pipeline {

class RegionFinder;  // farm/pipeline/region_finder.h

// Where the files named by content hash in RenderParams live on this agent.
struct ModelPaths {
  std::string checkpoint;     // the base checkpoint (informational: the engine is loaded from it)
  std::string tokenizer_dir;  // may be empty: next to the checkpoint
  std::vector<std::pair<std::string, double>> loras;  // path, weight (params.loras resolved, same order)
  // LoRA files already read, by path (a model cache's copies); others are read per render.
  std::map<std::string, std::shared_ptr<const farm::sd::LoraFile>> lora_files;
  std::map<std::string, std::string> controlnets;     // model_sha256 -> path
  // Textual-inversion embedding files by name (params.embeddings resolved); the recipe
  // reads them once and every engine call may use them.
  std::map<std::string, std::string> embeddings;
  std::string face_models_dir;  // face-api models (detailer); informational when faces are given
  std::string poses_dir;        // <poses_dir>/<pose>.json (OpenPose keypoints)
  std::string tones_yaml;       // farm_configs/tones.yaml
};

struct StageImage {
  std::string stage;  // "txt2img", "detailer#1", "img2img#2", "upscale#3", "tone#4" (index in the recipe)
  farm::image::Image image;
};

struct RecipeResult {
  farm::image::Image image;         // final RGB image
  std::vector<StageImage> stages;   // with RecipeOptions::keep_stage_images
  std::string png;                  // final PNG with the parameters chunk
  std::string record_json;          // every stage's settings as applied (defaults filled in)
  int faces_detailed = 0;           // over all detailer stages
  // Wall seconds in each model over the whole recipe: "text", "unet", "controlnet", "vae".
  std::map<std::string, double> model_seconds;
};

struct RecipeOptions {
  bool keep_stage_images = false;
  std::string render_id;
  std::string param_hash;  // empty: computed from the params
  // stage name as in StageImage::stage; step/total within that stage
  std::function<void(const std::string& stage, int step, int total)> progress;
  // polled before every engine call (stage, face, tile); true -> FailedPrecondition
  std::function<bool()> cancelled;
};

class RecipeRunner {
 public:
  RecipeRunner(std::shared_ptr<farm::sd::Engine> engine,
               std::shared_ptr<const farm::faceid::FacePipeline> faces,
               std::shared_ptr<const RegionFinder> regions = nullptr);

  StatusOr<RecipeResult> Run(const farm::RenderParams& params, const ModelPaths& models,
                             const RecipeOptions& options) const;

 private:
  std::shared_ptr<farm::sd::Engine> engine_;
  std::shared_ptr<const farm::faceid::FacePipeline> faces_;
  std::shared_ptr<const RegionFinder> regions_;
};

}  // namespace farm::pipeline
