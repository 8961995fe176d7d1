// JOB_KIND_RENDER: runs one canonical RenderParams record (params_json) through the
// portrait recipe (agent/pipeline) and returns the final PNG.
//
// Models are resolved by SHA-256 through the agent's ModelIndex; an unknown hash fails the
// job with an error naming it. A trained LoRA ("train:<param_hash>@<step>") comes from
// `trained_loras` (the agent fetches it from farmd); without one it fails the job. Loaded engines and read LoRA files stay in one ModelCache
// (LRU within cache_budget_bytes, keyed by file sha256; LoRAs are merged per render by
// the engine), so consecutive renders on one checkpoint load it once; one engine runs one
// render at a time. A separate VAE (RenderParams::vae_sha256) is resolved like the
// checkpoint and loaded into the engine, so the engine is cached per checkpoint and VAE.
// Textual-inversion embeddings (RenderParams::embeddings) are resolved by hash too and
// read for each render (a few KB each) under their recorded names.
// held_models() is what the cache holds (checkpoint, VAE and LoRA hashes), reported to farmd.
//
// Artifacts: "image" (image/png, the final PNG with the A1111 `parameters` chunk);
// "record" (application/json, RecipeResult::record_json: every stage's settings as applied);
// "stage/<stage>" PNGs when keep_stage_images; "faces" (application/json) when the face
// models load: the final image's faces with their 128-d descriptors, as
// {"model_version", "width", "height", "faces": [{"index", "score", "box", "descriptor"}]}
// (the inline step farmd turns into face-ID scores; no face gives "faces": []).
// Metrics: seconds_total, seconds_load, seconds_<stage>, seconds_in_<model> (text, unet,
// controlnet, vae over the whole recipe), faces_detailed, faces_found, model_cache_hit
// (the checkpoint), models_from_cache and models_loaded (checkpoint and LoRA files).
// Progress per stage and step; cancellation is polled by the recipe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "farm/agent/job_runner.h"
#include "farm/agent/model_cache.h"
#include "farm/agent/model_index.h"
#include "farm/agent/trained_loras.h"

namespace farm::faceid {
class FacePipeline;
}
namespace farm::pipeline {
class RegionFinder;
}

namespace farm::agent {

struct RenderRunnerOptions {
  std::shared_ptr<const ModelIndex> models;  // required
  std::shared_ptr<TrainedLoraSource> trained_loras;  // optional: "train:" LoRA refs
  std::uint64_t cache_budget_bytes = 8ull << 30;
  std::string device = "cpu";
  std::string face_models_dir;  // face-api model folder; empty: no detailer, no "faces"
  std::string pose_models_dir;  // human-models folder (detailer targets hands and person); may be empty
  std::string poses_dir;        // <poses_dir>/<pose>.json
  std::string tones_yaml;       // farm_configs/tones.yaml
  bool keep_stage_images = false;
};

class RenderRunner : public JobRunner {
 public:
  explicit RenderRunner(RenderRunnerOptions options);
  ~RenderRunner() override;
  studiofarm::v1::JobKind kind() const override { return studiofarm::v1::JOB_KIND_RENDER; }
  JobOutcome Run(const JobSpec& spec, const ProgressFn& progress,
                 const CancellationToken& cancel) override;

  // Checkpoints and LoRA files loaded now (SHA-256), most recently used first.
  std::vector<std::string> held_models() const override;

 private:
  StatusOr<std::shared_ptr<const faceid::FacePipeline>> Faces();
  // The body and hand models, loaded on first use by a hands or person detailer.
  StatusOr<std::shared_ptr<const pipeline::RegionFinder>> Regions();

  RenderRunnerOptions options_;
  ModelCache cache_;
  std::mutex faces_mu_;
  std::shared_ptr<const faceid::FacePipeline> faces_;
  Status faces_status_ = Status::Ok();
  bool faces_tried_ = false;
  std::mutex regions_mu_;
  std::shared_ptr<const pipeline::RegionFinder> regions_;
  Status regions_status_ = Status::Ok();
  bool regions_tried_ = false;
};

}  // namespace farm::agent
