// Cancelling inside a render: a cancel raised from the progress callback at step k ends
// txt2img, img2img and ControlNet renders before step k + 1 with the cancelled status; a
// check that never fires leaves the pixels bit-identical.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <string>

#include "farm/sd/engine.h"
#include "tiny_engine_suite.h"

namespace farm::sd {
namespace {

class CancelRenderTest : public testing::TinyEngineSuite {
 protected:
  static void SetUpTestSuite() { LoadTinyEngine("tiny-cancel", 9); }

  static RenderRequest SmallRequest() {
    RenderRequest r;
    r.prompt = "a portrait, soft light";
    r.negative_prompt = "blurry";
    r.sampler = "Euler a";
    r.steps = 6;
    r.seed = 42;
    r.width = 64;
    r.height = 48;
    return r;
  }

  // Renders `request` raising the cancel when step `cancel_at` is reported; returns the
  // status and the last step reported.
  static Status RenderCancellingAt(RenderRequest request, int64_t cancel_at, int64_t* last_step,
                                   int64_t* total) {
    bool cancel = false;
    request.cancelled = [&cancel] { return cancel; };
    *last_step = 0;
    auto out = engine_->Render(request, [&](int64_t done, int64_t steps) {
      *last_step = done;
      *total = steps;
      if (done == cancel_at) cancel = true;
    });
    return out.ok() ? Status::Ok() : out.status();
  }
};

TEST_F(CancelRenderTest, Txt2ImgStopsBeforeTheNextStep) {
  for (const char* sampler : {"Euler a", "DPM++ 2M Karras", "DPM++ SDE Karras", "DDIM"}) {
    RenderRequest r = SmallRequest();
    r.sampler = sampler;
    int64_t last = 0, total = 0;
    Status status = RenderCancellingAt(r, 2, &last, &total);
    EXPECT_TRUE(IsRenderCancelled(status)) << sampler << ": " << status.ToString();
    EXPECT_NE(status.message().find("step 2/6"), std::string::npos) << status.ToString();
    EXPECT_EQ(last, 2) << sampler;
  }
}

TEST_F(CancelRenderTest, Img2ImgStopsBeforeTheNextStep) {
  RenderRequest r = SmallRequest();
  r.steps = 10;
  r.init_image = at::rand({3, 48, 64});
  r.strength = 0.55;  // t_enc = 5 -> 6 steps run
  int64_t last = 0, total = 0;
  Status status = RenderCancellingAt(r, 3, &last, &total);
  EXPECT_TRUE(IsRenderCancelled(status)) << status.ToString();
  EXPECT_NE(status.message().find("step 3/6"), std::string::npos) << status.ToString();
  EXPECT_EQ(last, 3);
  EXPECT_EQ(total, 6);
}

TEST_F(CancelRenderTest, CancelAfterTheLastStepSkipsTheDecode) {
  int64_t last = 0, total = 0;
  Status status = RenderCancellingAt(SmallRequest(), 6, &last, &total);
  EXPECT_TRUE(IsRenderCancelled(status)) << status.ToString();
  EXPECT_NE(status.message().find("VAE decode"), std::string::npos) << status.ToString();
}

TEST_F(CancelRenderTest, ControlNetRenderStopsBeforeTheNextStep) {
  RenderRequest r = SmallRequest();
  r.controlnets.push_back(
      {files_->controlnet, at::arange(3 * 48 * 64, at::kFloat).reshape({3, 48, 64}).mul(0.37).sin().abs()});
  int64_t last = 0, total = 0;
  Status status = RenderCancellingAt(r, 1, &last, &total);
  EXPECT_TRUE(IsRenderCancelled(status)) << status.ToString();
  EXPECT_EQ(last, 1);
}

TEST_F(CancelRenderTest, ACheckThatNeverFiresKeepsThePixelsAndTheEngineRendersAfterACancel) {
  RenderRequest r = SmallRequest();
  r.init_image = at::rand({3, 48, 64}, at::detail::createCPUGenerator(4));
  r.strength = 0.6;
  auto plain = engine_->Render(r);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  int64_t last = 0, total = 0;
  ASSERT_TRUE(IsRenderCancelled(RenderCancellingAt(r, 1, &last, &total)));
  r.cancelled = [] { return false; };
  auto polled = engine_->Render(r);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  EXPECT_TRUE(at::equal(plain->images, polled->images));
  EXPECT_TRUE(at::equal(plain->latents, polled->latents));
}

}  // namespace
}  // namespace farm::sd
