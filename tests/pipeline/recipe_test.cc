// The whole recipe on the tiny model at 64x96.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "farm/image/png_io.h"
#include "farm/image/png_parameters.h"
#include "pipeline_fixture.h"

namespace farm::pipeline {
namespace {

using namespace farm::pipeline::testing;

// The studio preset of farm_configs/pipelines.yaml at test cost: the detailer at a
// small resolution (the 128x192 upscale is one 512 px tile).
RenderParams StudioParams() {
  RenderParams params = TinyParams();
  params.tone = "warm";
  params.pose = "standing";
  params.controlnets.push_back({kPoseControlSha, "pose:standing", 0.8, 0.0, 1.0});
  auto stages = LoadPipelinePreset(SourceDir() + "/farm_configs/pipelines.yaml", "studio");
  EXPECT_TRUE(stages.ok()) << stages.status().ToString();
  if (!stages.ok()) return params;
  params.stages = *stages;
  for (StageSettings& stage : params.stages) {
    if (stage.kind == "detailer") stage.settings["resolution"] = std::int64_t{64};
  }
  return params;
}

TEST(PipelinePreset, StudioHasTheDesignedStages) {
  auto stages = LoadPipelinePreset(SourceDir() + "/farm_configs/pipelines.yaml", "studio");
  ASSERT_TRUE(stages.ok()) << stages.status().ToString();
  std::vector<std::string> kinds;
  for (const auto& s : *stages) kinds.push_back(s.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"detailer", "img2img", "detailer", "upscale", "tone"}));
  EXPECT_EQ(std::get<std::int64_t>((*stages)[0].settings.at("padding")), 32);
  EXPECT_DOUBLE_EQ(std::get<double>((*stages)[1].settings.at("denoise")), 0.35);
  EXPECT_EQ(std::get<std::string>((*stages)[3].settings.at("mode")), "tiled");
  EXPECT_EQ(LoadPipelinePreset(SourceDir() + "/farm_configs/pipelines.yaml", "nope").status().code(),
            StatusCode::kNotFound);
}

TEST(Recipe, StudioRunsBitIdenticallyAndThePngReadsBackToTheParams) {
  if (Faces() == nullptr) GTEST_SKIP() << "face-api models not installed (studio has a detailer)";
  const RenderParams params = StudioParams();
  ASSERT_EQ(params.stages.size(), 5u);
  const ModelPaths models = TinyModels();
  RecipeRunner runner(TinyEngine(), Faces());
  RecipeOptions options;
  options.keep_stage_images = true;
  options.render_id = "r-42";
  std::vector<std::string> progress_stages;
  options.progress = [&](const std::string& stage, int, int) {
    if (progress_stages.empty() || progress_stages.back() != stage) progress_stages.push_back(stage);
  };
  auto a = runner.Run(params, models, options);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->image.width, 128);
  EXPECT_EQ(a->image.height, 192);
  ASSERT_EQ(a->stages.size(), 6u);
  EXPECT_EQ(a->stages[0].stage, "txt2img");
  EXPECT_EQ(a->stages[4].stage, "upscale#4");
  EXPECT_EQ(a->stages[5].image.pixels, a->image.pixels);
  // Every stage announces itself, also those that report no steps (the tone grade).
  EXPECT_EQ(progress_stages, (std::vector<std::string>{"txt2img", "detailer#1", "img2img#2", "detailer#3",
                                                       "upscale#4", "tone#5"}));
  EXPECT_GT(a->model_seconds.at("unet"), 0.0);

  auto b = runner.Run(params, models, options);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(a->png, b->png);
  EXPECT_EQ(a->record_json, b->record_json);

  // The PNG: the final pixels and an A1111 infotext that gives the params back.
  auto decoded = farm::image::DecodePng(a->png);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->pixels, a->image.pixels);
  auto info = farm::image::ReadPngParameters(a->png);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_TRUE(info->has_value());
  const farm::image::GenerationParameters& gp = **info;
  EXPECT_EQ(gp.prompt, params.prompt);
  EXPECT_EQ(gp.negative_prompt, params.negative_prompt);
  ASSERT_NE(gp.Find("Steps"), nullptr);
  EXPECT_EQ(*gp.Find("Steps"), "3");
  EXPECT_EQ(*gp.Find("Sampler"), "Euler a");
  EXPECT_EQ(*gp.Find("Seed"), "1234");
  EXPECT_EQ(*gp.Find("Size"), "64x96");
  EXPECT_EQ(*gp.Find("CFG scale"), "7");
  EXPECT_EQ(*gp.Find("Tone"), "warm");
  EXPECT_EQ(*gp.Find("Final size"), "128x192");
  EXPECT_EQ(*gp.Find("Render id"), "r-42");
  auto hash = ParamHash(params);
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(*gp.Find("StudioFarm param_hash"), *hash);
  ASSERT_NE(gp.Find("StudioFarm params"), nullptr);
  auto back = RenderParamsFromJson(*gp.Find("StudioFarm params"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*ParamHash(*back), *hash);

  // The record holds every stage's settings as applied.
  auto record = nlohmann::json::parse(a->record_json);
  ASSERT_EQ(record["stages"].size(), 6u);
  EXPECT_EQ(record["param_hash"], *hash);
  EXPECT_EQ(record["stages"][1]["kind"], "detailer");
  EXPECT_EQ(record["stages"][1]["settings"]["confidence"], 0.3);
  EXPECT_EQ(record["stages"][2]["settings"]["denoise"], 0.35);
  EXPECT_EQ(record["stages"][4]["settings"]["padding"], 32);
  EXPECT_EQ(record["stages"][5]["settings"]["white_balance_shift"], 900.0);
}

// Several detailer passes, each with its target (as the studio_hands preset lists them):
// faces from the face models, hands and people from the region finder, each counted in
// its stage's record.
TEST(Recipe, SeveralDetailerPassesEachFindTheirTarget) {
  if (Faces() == nullptr) GTEST_SKIP() << "face-api models not installed";
  RenderParams params = TinyParams();
  params.steps = 2;
  const ModelPaths models = TinyModels();
  auto finder = std::make_shared<FixedRegions>(std::vector<Region>{{4, 4, 16, 16, 0.9}, {30, 50, 12, 12, 0.4}});
  RecipeRunner runner(TinyEngine(), Faces(), finder);
  const farm::Settings small = {{"resolution", std::int64_t{64}}, {"confidence", 0.3}};
  farm::Settings hands = small, person = small;
  hands["target"] = std::string("hands");
  person["target"] = std::string("person");
  person["confidence"] = 0.5;
  params.stages = {{"detailer", small}, {"detailer", hands}, {"detailer", person}};
  auto out = runner.Run(params, models, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(finder->targets, (std::vector<std::string>{"hands", "person"}));
  const auto record = nlohmann::json::parse(out->record_json);
  ASSERT_EQ(record["stages"].size(), 4u);
  EXPECT_EQ(record["stages"][1]["settings"]["target"], "face");
  EXPECT_TRUE(record["stages"][1]["settings"].contains("faces"));
  EXPECT_EQ(record["stages"][2]["settings"]["hands"], 2);
  EXPECT_TRUE(record["stages"][2]["settings"].contains("hand_1"));
  EXPECT_EQ(record["stages"][3]["settings"]["persons"], 1);  // the 0.4 region is under 0.5
  EXPECT_EQ(out->faces_detailed, record["stages"][1]["settings"]["faces"].get<int>());

  // The studio_hands preset is the studio pipeline with a hands pass after each face pass.
  auto preset = LoadPipelinePreset(SourceDir() + "/farm_configs/pipelines.yaml", "studio_hands");
  ASSERT_TRUE(preset.ok()) << preset.status().ToString();
  std::vector<std::string> targets;
  for (const auto& stage : *preset) {
    if (stage.kind == "detailer") targets.push_back(std::get<std::string>(stage.settings.at("target")));
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"face", "hands", "face", "hands"}));
}

TEST(Recipe, FastPipelineIsTxt2ImgOnly) {
  RenderParams params = TinyParams();
  const ModelPaths models = TinyModels();
  RecipeRunner runner(TinyEngine(), nullptr);
  auto out = runner.Run(params, models, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->image.width, 64);
  EXPECT_EQ(out->image.height, 96);
  EXPECT_TRUE(out->stages.empty());
  EXPECT_EQ(out->faces_detailed, 0);
}

TEST(Recipe, BadStagesAndCancellationAreErrors) {
  RenderParams params = TinyParams();
  const ModelPaths models = TinyModels();
  RecipeRunner runner(TinyEngine(), nullptr);
  params.stages = {{"sharpen", {}}};
  auto bad = runner.Run(params, models, {});
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("sharpen"), std::string::npos);
  params.stages = {{"img2img", {{"strength", 0.3}}}};
  bad = runner.Run(params, models, {});
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("img2img: unknown setting 'strength'"), std::string::npos)
      << bad.status().ToString();
  params.stages = {{"detailer", {}}};
  EXPECT_EQ(runner.Run(params, models, {}).status().code(), StatusCode::kFailedPrecondition);
  params.stages = {};
  RecipeOptions cancel;
  cancel.cancelled = [] { return true; };
  auto cancelled = runner.Run(params, models, cancel);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_NE(cancelled.status().message().find("cancelled"), std::string::npos);
  EXPECT_EQ(RecipeRunner(nullptr, nullptr).Run(params, models, {}).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace farm::pipeline
