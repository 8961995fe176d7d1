// Renders steered by ControlNets (the tiny model's random ControlNet): the residuals
// change the image, reproducibly; scale, guidance window and summing of units behave as
// documented in engine.h; bad units are clear errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "farm/sd/engine.h"
#include "farm/sd/tiny_model.h"
#include "reference_paths.h"
#include "tiny_engine_suite.h"

namespace farm::sd {
namespace {

using testing::FileBytes;

class ControlNetRenderTest : public testing::TinyEngineSuite {
 protected:
  static void SetUpTestSuite() { LoadTinyEngine("tiny-cn", 7); }

  static RenderRequest SmallRequest() {
    RenderRequest r;
    r.prompt = "a portrait, soft light";
    r.negative_prompt = "blurry";
    r.sampler = "Euler";
    r.steps = 4;
    r.seed = 42;
    r.width = 64;
    r.height = 48;
    return r;
  }
  // A deterministic hint in [0, 1] of the request's size.
  static at::Tensor Hint() {
    return at::arange(3 * 48 * 64, at::kFloat).reshape({3, 48, 64}).mul(0.37).sin().abs();
  }
  static ControlNetUnit Unit(double scale = 1.0, double start = 0.0, double end = 1.0) {
    return {files_->controlnet, Hint(), scale, start, end};
  }

};

TEST_F(ControlNetRenderTest, TinyControlNetIsWrittenDeterministicallyAndFitsTheTinyUNet) {
  ASSERT_TRUE(std::filesystem::is_regular_file(files_->controlnet));
  auto again = MakeTinyModel(testing::ScratchDir() + "/tiny-cn-again", 7);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FileBytes(again->controlnet), FileBytes(files_->controlnet));
  auto net = engine_->LoadControlNet(files_->controlnet);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  EXPECT_EQ((*net)->num_residuals(), engine_->unet().num_skips());
  EXPECT_EQ((*net)->hint_downscale(), engine_->vae().downscale_factor());
  EXPECT_EQ((*net)->block_out_channels(), engine_->unet().block_out_channels());
}

TEST_F(ControlNetRenderTest, ControlNetSteersTheRenderReproducibly) {
  RenderRequest plain = SmallRequest();
  auto base = engine_->Render(plain);
  ASSERT_TRUE(base.ok()) << base.status().ToString();

  RenderRequest r = SmallRequest();
  r.controlnets = {Unit()};
  auto first = engine_->Render(r);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = engine_->Render(r);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(at::equal(first->latents, second->latents));
  EXPECT_FALSE(at::equal(first->latents, base->latents));
  ASSERT_EQ(first->controlnets_applied.size(), 1u);
  EXPECT_EQ(first->controlnets_applied[0], files_->controlnet + ":1:0:1");

  // Scale 0 is no ControlNet at all.
  r.controlnets = {Unit(0.0)};
  auto off = engine_->Render(r);
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(at::equal(off->latents, base->latents));
}

TEST_F(ControlNetRenderTest, UnitsAreSummedAndGuidanceWindowSelectsSteps) {
  RenderRequest r = SmallRequest();
  r.controlnets = {Unit(1.0)};
  auto full = engine_->Render(r);
  // Two halves of the same unit add up to the whole (x * 0.5 is exact in floating point).
  r.controlnets = {Unit(0.5), Unit(0.5)};
  auto halves = engine_->Render(r);
  ASSERT_TRUE(full.ok() && halves.ok()) << halves.status().ToString();
  EXPECT_TRUE(at::equal(full->latents, halves->latents));

  auto base = engine_->Render(SmallRequest());
  // Steps 2 and 3 of 4 (0.5 <= i/4 < 1): differs from both no guidance and full guidance.
  r.controlnets = {Unit(1.0, 0.5, 1.0)};
  auto late = engine_->Render(r);
  // Step 0 only (0 <= i/4 < 0.25).
  r.controlnets = {Unit(1.0, 0.0, 0.25)};
  auto early = engine_->Render(r);
  ASSERT_TRUE(base.ok() && late.ok() && early.ok()) << late.status().ToString();
  EXPECT_FALSE(at::equal(late->latents, base->latents));
  EXPECT_FALSE(at::equal(late->latents, full->latents));
  EXPECT_FALSE(at::equal(early->latents, late->latents));
  EXPECT_FALSE(at::equal(early->latents, full->latents));

  // A window that covers no step of this render leaves it unguided: 0.9 <= i/4 holds for none.
  r.controlnets = {Unit(1.0, 0.9, 1.0)};
  auto none = engine_->Render(r);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(at::equal(none->latents, base->latents));
}

TEST_F(ControlNetRenderTest, WorksWithImg2ImgAndSecondOrderSamplers) {
  for (const char* sampler : {"DPM++ 2M Karras", "DPM++ SDE Karras"}) {
    RenderRequest r = SmallRequest();
    r.sampler = sampler;
    r.controlnets = {Unit(0.8)};
    auto out = engine_->Render(r);
    ASSERT_TRUE(out.ok()) << sampler << ": " << out.status().ToString();
  }
  RenderRequest r = SmallRequest();
  r.steps = 10;
  r.init_image = at::rand({3, 48, 64});
  r.strength = 0.35;  // 4 steps run
  r.controlnets = {Unit(1.0, 0.0, 0.5)};
  auto out = engine_->Render(r);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->steps_run, 4);
}

TEST_F(ControlNetRenderTest, BadUnitsAreClearErrors) {
  RenderRequest r = SmallRequest();
  r.controlnets = {Unit()};
  r.controlnets[0].model = testing::ScratchDir() + "/absent-controlnet.safetensors";
  auto missing = engine_->Render(r);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("absent-controlnet.safetensors"), std::string::npos);

  r.controlnets = {Unit()};
  r.controlnets[0].model = files_->checkpoint;  // an SD checkpoint, not a ControlNet
  auto not_controlnet = engine_->Render(r);
  ASSERT_FALSE(not_controlnet.ok());
  EXPECT_NE(not_controlnet.status().message().find("not a ControlNet"), std::string::npos)
      << not_controlnet.status().ToString();

  r.controlnets = {Unit()};
  r.controlnets[0].hint = at::rand({3, 24, 32});
  auto small = engine_->Render(r);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("hint"), std::string::npos);

  r.controlnets = {Unit(1.0, 0.6, 0.4)};
  auto window = engine_->Render(r);
  ASSERT_FALSE(window.ok());
  EXPECT_NE(window.status().message().find("start"), std::string::npos);

  // A ControlNet made for another UNet (the shared reference's, other widths).
  if (auto dir = testing::FindSd15ReferenceDir()) {
    r.controlnets = {Unit()};
    r.controlnets[0].model = *dir + "/tiny_controlnet.safetensors";
    auto other = engine_->Render(r);
    ASSERT_FALSE(other.ok());
    EXPECT_NE(other.status().message().find("does not fit"), std::string::npos) << other.status().ToString();
  }
  // The engine still renders after the failures.
  r.controlnets = {Unit()};
  EXPECT_TRUE(engine_->Render(r).ok());
}

}  // namespace
}  // namespace farm::sd
