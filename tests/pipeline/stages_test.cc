// Each stage on the tiny model: runs, keeps sizes, changes only what it should.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "farm/image/crop_paste.h"
#include "farm/image/resize.h"
#include "pipeline_fixture.h"

namespace farm::pipeline {
namespace {

using farm::image::Image;
using namespace farm::pipeline::testing;

TEST(Txt2ImgStage, RendersAtTheSizeDeterministicallyAndPoseChangesIt) {
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  auto a = RunTxt2Img(Context(params, models));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->image.width, 64);
  EXPECT_EQ(a->image.height, 96);
  auto b = RunTxt2Img(Context(params, models));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->image.pixels, b->image.pixels);

  params.pose = "standing";
  params.controlnets.push_back({kPoseControlSha, "pose:standing", 1.0, 0.0, 1.0});
  auto posed = RunTxt2Img(Context(params, models));
  ASSERT_TRUE(posed.ok()) << posed.status().ToString();
  EXPECT_NE(posed->image.pixels, a->image.pixels);
}

TEST(Txt2ImgStage, BadControlNetsAreErrors) {
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  params.controlnets.push_back({kPoseControlSha, "depth:x", 1.0, 0.0, 1.0});
  auto bad = RunTxt2Img(Context(params, models));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("depth:x"), std::string::npos) << bad.status().ToString();
  params.controlnets = {{"ffff", "pose:standing", 1.0, 0.0, 1.0}};
  EXPECT_EQ(RunTxt2Img(Context(params, models)).status().code(), StatusCode::kNotFound);
  params.controlnets = {{kPoseControlSha, "pose:no_such_pose", 1.0, 0.0, 1.0}};
  EXPECT_FALSE(RunTxt2Img(Context(params, models)).ok());
}

TEST(Img2ImgStage, DenoiseZeroIsIdentityAndDenoiseChangesTheImage) {
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  const Image input = Gradient(64, 96);
  auto same = RunImg2Img(Context(params, models), {{"denoise", 0.0}}, input);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->image.pixels, input.pixels);
  auto changed = RunImg2Img(Context(params, models), {{"denoise", 0.5}, {"prompt", "filter"}}, input);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(changed->image.width, 64);
  EXPECT_EQ(changed->image.height, 96);
  EXPECT_NE(changed->image.pixels, input.pixels);
  EXPECT_EQ(std::get<std::string>(changed->applied.at("prompt")), "filter");
  EXPECT_EQ(std::get<std::int64_t>(changed->applied.at("steps")), 3);
}

TEST(Img2ImgStage, OddSizesAreRoundedForTheEngineAndBack) {
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  auto out = RunImg2Img(Context(params, models), {{"denoise", 0.3}}, Gradient(61, 45));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->image.width, 61);
  EXPECT_EQ(out->image.height, 45);
}

TEST(StageSettings, UnknownKeysAndBadValuesNameStageAndKey) {
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  const Image input = Gradient(64, 96);
  auto bad = RunImg2Img(Context(params, models), {{"denoize", 0.3}}, input);
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("img2img"), std::string::npos);
  EXPECT_NE(bad.status().message().find("denoize"), std::string::npos);
  auto range = RunUpscale(Context(params, models), {{"scale", 9.0}}, input);
  ASSERT_EQ(range.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(range.status().message().find("scale"), std::string::npos);
  auto type = RunTone(Context(params, models), {{"saturation", std::string("lots")}}, input);
  ASSERT_EQ(type.status().code(), StatusCode::kInvalidArgument);
  auto tone_key = RunTone(Context(params, models), {{"warmth", 1.0}}, input);
  ASSERT_EQ(tone_key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(tone_key.status().message().find("tone: unknown setting 'warmth'"), std::string::npos);
  auto choice = RunUpscale(Context(params, models), {{"mode", std::string("bicubic")}}, input);
  ASSERT_EQ(choice.status().code(), StatusCode::kInvalidArgument);
}

TEST(UpscaleStage, ResizeIsLanczos) {
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  const Image input = Gradient(64, 96);
  auto out = RunUpscale(Context(params, models), {{"scale", 1.5}}, input);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto expected = farm::image::ResizeLanczos(input, 96, 144);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(out->image.pixels, expected->pixels);
}

TEST(UpscaleStage, TiledOnTheTinyModelHasTheTargetSizeAndIsDeterministic) {
  RenderParams params = TinyParams();
  params.controlnets.push_back({kTileControlSha, "tile", 1.0, 0.0, 1.0});
  ModelPaths models = TinyModels();
  const Image input = Gradient(32, 48);
  farm::Settings s = {{"mode", std::string("tiled")}, {"scale", 2.0},        {"tile_size", std::int64_t{64}},
                      {"overlap", std::int64_t{16}},  {"padding", std::int64_t{8}}, {"mask_blur", std::int64_t{4}},
                      {"denoise", 0.3},               {"order", std::string("chess")},
                      {"seam_fix", std::string("band")}, {"seam_fix_width", std::int64_t{16}},
                      {"controlnet_weight", 0.5},     {"controlnet_downsample", 2.0}};
  auto a = RunUpscale(Context(params, models), s, input);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->image.width, 64);
  EXPECT_EQ(a->image.height, 96);
  EXPECT_GT(std::get<std::int64_t>(a->applied.at("tiles")), 1);
  EXPECT_GT(std::get<std::int64_t>(a->applied.at("seam_bands")), 0);
  EXPECT_EQ(std::get<std::string>(a->applied.at("controlnet")), "tile");
  auto b = RunUpscale(Context(params, models), s, input);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->image.pixels, b->image.pixels);
}

// Tiles are redrawn one after another on the current canvas (as Ultimate SD Upscale
// does), so with a redraw that is idempotent (clipping the highlights) the tiled result
// is exactly that clip of the resized image: the blending adds no seams of its own.
TEST(UpscaleStage, TilesBlendWithoutSeamsOnASmoothInput) {
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  const Image input = Gradient(64, 96);
  farm::Settings s = {{"mode", std::string("tiled")}, {"scale", 2.0}, {"tile_size", std::int64_t{64}},
                      {"overlap", std::int64_t{16}}, {"padding", std::int64_t{8}}, {"mask_blur", std::int64_t{8}}};
  auto resized = farm::image::ResizeLanczos(input, 128, 192);
  ASSERT_TRUE(resized.ok());
  int calls = 0;
  TileRedraw clip_highlights = [&](const Image& tile, double denoise, const Image&) -> StatusOr<Image> {
    ++calls;
    EXPECT_DOUBLE_EQ(denoise, 0.3);
    Image out = tile;
    for (uint8_t& v : out.pixels) v = std::min<uint8_t>(v, 100);
    return out;
  };
  auto out = RunUpscale(Context(params, models), s, input, clip_highlights);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_GT(calls, 1);
  ASSERT_EQ(out->image.pixels.size(), resized->pixels.size());
  int worst = 0;
  for (size_t i = 0; i < out->image.pixels.size(); ++i) {
    const int expected = std::min<int>(resized->pixels[i], 100);
    worst = std::max(worst, std::abs(out->image.pixels[i] - expected));
  }
  EXPECT_EQ(worst, 0);
  // Neighbouring pixels differ no more than the smooth input's own steps.
  int max_step = 0;
  for (int y = 0; y < out->image.height; ++y) {
    for (int x = 1; x < out->image.width; ++x) {
      for (int c = 0; c < 3; ++c) max_step = std::max(max_step, std::abs(out->image.at(x, y)[c] - out->image.at(x - 1, y)[c]));
    }
  }
  EXPECT_LE(max_step, 3);
}

TEST(ToneStage, WarmRaisesRedOverBlueAndCoolLowersIt) {
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  Image grey = *farm::image::MakeImage(32, 32, 3, 128);
  const double before = MeanChannel(grey, 0) - MeanChannel(grey, 2);
  params.tone = "warm";
  auto warm = RunTone(Context(params, models), {}, grey);
  ASSERT_TRUE(warm.ok()) << warm.status().ToString();
  EXPECT_GT(MeanChannel(warm->image, 0) - MeanChannel(warm->image, 2), before + 5);
  EXPECT_DOUBLE_EQ(std::get<double>(warm->applied.at("white_balance_shift")), 900);
  params.tone = "cool";
  auto cool = RunTone(Context(params, models), {}, grey);
  ASSERT_TRUE(cool.ok()) << cool.status().ToString();
  EXPECT_LT(MeanChannel(cool->image, 0) - MeanChannel(cool->image, 2), before - 5);
  // Settings override the preset: strength 0 is the identity.
  auto off = RunTone(Context(params, models), {{"strength", 0.0}}, grey);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->image.pixels, grey.pixels);
  params.tone = "sepia";
  EXPECT_EQ(RunTone(Context(params, models), {}, grey).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace farm::pipeline
