// Cancelling inside an engine call of the recipe: the pipeline's `cancelled` reaches the
// sampler, so a cancel raised at step k of txt2img or of a tile of the tiled upscale ends
// the render before step k + 1, with the cancelled status naming the stage and the step.
#include <gtest/gtest.h>

#include <string>

#include "farm/pipeline/recipe.h"
#include "farm/sd/sampler.h"
#include "pipeline_fixture.h"

namespace farm::pipeline {
namespace {

using farm::image::Image;
using namespace farm::pipeline::testing;

TEST(Cancel, RaisedAtATxt2ImgStepStopsTheRecipeBeforeTheNextStep) {
  RenderParams params = TinyParams();
  params.steps = 5;
  const ModelPaths models = TinyModels();
  RecipeRunner runner(TinyEngine(), nullptr);
  bool cancel = false;
  int last_step = 0, calls_after_cancel = 0;
  RecipeOptions options;
  options.cancelled = [&cancel] { return cancel; };
  options.progress = [&](const std::string& stage, int step, int) {
    if (cancel) ++calls_after_cancel;
    if (stage != "txt2img" || step <= 0) return;
    last_step = step;
    if (step == 2) cancel = true;
  };
  auto out = runner.Run(params, models, options);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(farm::sd::IsRenderCancelled(out.status())) << out.status().ToString();
  EXPECT_NE(out.status().message().find("step 2/5"), std::string::npos) << out.status().ToString();
  EXPECT_EQ(last_step, 2);
  EXPECT_EQ(calls_after_cancel, 0);
}

TEST(Cancel, RaisedInsideAnUpscaleTileStopsThatTileBeforeTheNextStep) {
  RenderParams params = TinyParams();
  params.steps = 10;
  params.controlnets.push_back({kTileControlSha, "tile", 1.0, 0.0, 1.0});
  ModelPaths models = TinyModels();
  // 32x48 -> 64x96 in 64-pixel tiles overlapping by 16: 2 tiles; denoise 0.5 runs 6 of
  // the 10 steps in each.
  farm::Settings s = {{"mode", std::string("tiled")}, {"scale", 2.0},          {"tile_size", std::int64_t{64}},
                      {"overlap", std::int64_t{16}},  {"padding", std::int64_t{8}}, {"denoise", 0.5},
                      {"seam_fix", std::string("none")}};
  StageContext context = Context(params, models);
  bool cancel = false;
  int tiles_done = 0, last_step = 0, calls_after_cancel = 0;
  context.cancelled = [&cancel] { return cancel; };
  context.progress = [&](int step, int total) {
    if (cancel) ++calls_after_cancel;
    if (total != 6) {  // the stage's tile count
      tiles_done = step;
      return;
    }
    last_step = step;
    if (tiles_done == 1 && step == 2) cancel = true;
  };
  auto out = RunUpscale(context, s, Gradient(32, 48));
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(farm::sd::IsRenderCancelled(out.status())) << out.status().ToString();
  EXPECT_NE(out.status().message().find("upscale: tile 1"), std::string::npos) << out.status().ToString();
  EXPECT_NE(out.status().message().find("step 2/6"), std::string::npos) << out.status().ToString();
  EXPECT_EQ(tiles_done, 1);
  EXPECT_EQ(last_step, 2);
  EXPECT_EQ(calls_after_cancel, 0);
}

}  // namespace
}  // namespace farm::pipeline
