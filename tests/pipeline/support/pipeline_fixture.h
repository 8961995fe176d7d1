// Shared by the pipeline tests: the tiny model loaded once per test binary, render
// params at test sizes, the face-api models and demo photos when present.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "farm/faceid/pipeline.h"
#include "farm/image/image.h"
#include "farm/pipeline/recipe.h"
#include "farm/pipeline/region_finder.h"
#include "farm/pipeline/stages.h"
#include "farm/schemas/render_params.h"
#include "farm/sd/engine.h"

namespace farm::pipeline::testing {

inline constexpr char kPoseControlSha[] = "1111111111111111111111111111111111111111111111111111111111111111";
inline constexpr char kTileControlSha[] = "2222222222222222222222222222222222222222222222222222222222222222";

// The repository root (FARM_SOURCE_DIR, else the source tree this was built from).
std::string SourceDir();
// The tiny model's engine (made in a scratch folder on first use; aborts the test on error).
std::shared_ptr<farm::sd::Engine> TinyEngine();
// Checkpoint, tokenizer, the tiny ControlNet under both shas, poses and tones of the repo.
ModelPaths TinyModels();
// 64x96, 3 steps, Euler a, seed 1234, no stages.
farm::RenderParams TinyParams();
// The face pipeline, or null when the face-api models are not installed.
std::shared_ptr<const farm::faceid::FacePipeline> Faces();
// demo/sampleN.jpg decoded with its longer side at most max_side; empty image when absent.
farm::image::Image DemoPhoto(int n, int max_side);

StageContext Context(const farm::RenderParams& params, const ModelPaths& models);

// A region finder that returns the regions it was given (those scoring at least the
// confidence) and records the targets it was asked for.
class FixedRegions : public RegionFinder {
 public:
  explicit FixedRegions(std::vector<Region> regions) : regions_(std::move(regions)) {}
  StatusOr<std::vector<Region>> Find(const farm::faceid::RgbImage& image, const std::string& target,
                                     double min_confidence) const override;
  mutable std::vector<std::string> targets;

 private:
  std::vector<Region> regions_;
};

// Mean of channel c over the image.
double MeanChannel(const farm::image::Image& image, int c);

// A smooth w x h RGB gradient without faces: red grows to the right, green downwards.
farm::image::Image Gradient(int w, int h);

}  // namespace farm::pipeline::testing
