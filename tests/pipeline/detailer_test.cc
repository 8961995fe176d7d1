// The detailer stage on the tiny model, with the face-api models and a demo photo.
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

TEST(DetailerStage, NoFaceLeavesTheImageAlone) {
  if (Faces() == nullptr) GTEST_SKIP() << "face-api models not installed";
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  const Image input = Gradient(64, 96);
  auto out = RunDetailer(Context(params, models), {}, input);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->faces_detailed, 0);
  EXPECT_EQ(out->image.pixels, input.pixels);
}

TEST(DetailerStage, WithoutFaceModelsItIsAnError) {
  RenderParams params = TinyParams();
  ModelPaths models = TinyModels();
  StageContext context = Context(params, models);
  context.faces = nullptr;
  EXPECT_EQ(RunDetailer(context, {}, Gradient(64, 96)).status().code(), StatusCode::kFailedPrecondition);
  // hands and person need a region finder (the body and hand models), not the face models.
  for (const char* target : {"hands", "person"}) {
    const Status status = RunDetailer(context, {{"target", std::string(target)}}, Gradient(64, 96)).status();
    EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << target;
    EXPECT_NE(status.message().find("human-models"), std::string::npos) << status.ToString();
  }
  EXPECT_EQ(RunDetailer(context, {{"target", std::string("feet")}}, Gradient(64, 96)).status().code(),
            StatusCode::kInvalidArgument);
}

// Regions placed by the test: each is repainted with its own seed, pixels away from every
// region stay exactly as they were, and the record names the regions as hands.
TEST(DetailerStage, HandsTargetRepaintsTheFinderRegionsAboveTheConfidence) {
  RenderParams params = TinyParams();
  params.steps = 2;
  ModelPaths models = TinyModels();
  StageContext context = Context(params, models);
  context.faces = nullptr;  // hands need no face models
  FixedRegions finder({{8, 8, 12, 10, 0.9}, {40, 60, 10, 12, 0.6}, {40, 10, 10, 10, 0.2}});
  context.regions = &finder;
  const Image input = Gradient(64, 96);
  auto out = RunDetailer(context,
                         {{"target", std::string("hands")}, {"confidence", 0.5}, {"resolution", std::int64_t{64}},
                          {"denoise", 0.6}, {"dilate", std::int64_t{2}}, {"feather", std::int64_t{2}},
                          {"padding", std::int64_t{4}}},
                         input);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(finder.targets, std::vector<std::string>{"hands"});
  EXPECT_EQ(out->faces_detailed, 0);  // hands are not faces
  EXPECT_EQ(std::get<std::int64_t>(out->applied.at("hands")), 2);
  EXPECT_TRUE(out->applied.count("hand_0") && out->applied.count("hand_1"));
  EXPECT_FALSE(out->applied.count("hand_2"));
  // Pixels beyond every kept region grown by dilate + feather + 1 are untouched, and the
  // low-score region (40, 10) is not repainted.
  const std::vector<farm::image::Rect> kept = {farm::image::GrowRect({8, 8, 12, 10}, 5),
                                               farm::image::GrowRect({40, 60, 10, 12}, 5)};
  int changed_inside = 0, changed_outside = 0;
  for (int y = 0; y < input.height; ++y) {
    for (int x = 0; x < input.width; ++x) {
      bool inside = false;
      for (const auto& r : kept) inside = inside || (x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
      const bool changed = std::memcmp(out->image.at(x, y), input.at(x, y), 3) != 0;
      (inside ? changed_inside : changed_outside) += changed ? 1 : 0;
    }
  }
  EXPECT_EQ(changed_outside, 0);
  EXPECT_GT(changed_inside, 0);
}

// A demo photo as the txt2img stand-in: each detected face is repainted, nothing outside
// the pasted region changes.
TEST(DetailerStage, RepaintsFacesAndNothingElse) {
  if (Faces() == nullptr) GTEST_SKIP() << "face-api models not installed";
  const Image photo = DemoPhoto(1, 256);
  if (photo.width == 0) GTEST_SKIP() << "demo photo not installed";
  RenderParams params = TinyParams();
  params.steps = 2;
  ModelPaths models = TinyModels();
  farm::faceid::AnalyzeOptions analyze;
  analyze.min_confidence = 0.3;
  auto faces = Faces()->Analyze({photo.width, photo.height, photo.pixels}, analyze);
  ASSERT_TRUE(faces.ok()) << faces.status().ToString();
  ASSERT_FALSE(faces->empty()) << "the detector finds no face in demo/sample1.jpg at " << photo.width;
  const int dilate = 4, feather = 4;
  auto out = RunDetailer(Context(params, models),
                         {{"resolution", std::int64_t{64}}, {"denoise", 0.5}, {"dilate", std::int64_t{dilate}},
                          {"feather", std::int64_t{feather}}, {"padding", std::int64_t{16}}},
                         photo);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->faces_detailed, static_cast<int>(faces->size()));
  ASSERT_EQ(out->image.width, photo.width);
  ASSERT_EQ(out->image.height, photo.height);
  std::vector<farm::image::Rect> regions;
  for (const auto& face : *faces) {
    const int x0 = static_cast<int>(std::floor(face.box.x)), y0 = static_cast<int>(std::floor(face.box.y));
    const int x1 = static_cast<int>(std::ceil(face.box.x + face.box.width));
    const int y1 = static_cast<int>(std::ceil(face.box.y + face.box.height));
    regions.push_back(farm::image::GrowRect({x0, y0, x1 - x0, y1 - y0}, dilate + feather + 1));
  }
  int changed_inside = 0, changed_outside = 0;
  for (int y = 0; y < photo.height; ++y) {
    for (int x = 0; x < photo.width; ++x) {
      bool inside = false;
      for (const auto& r : regions) inside = inside || (x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
      const bool changed = std::memcmp(out->image.at(x, y), photo.at(x, y), 3) != 0;
      (inside ? changed_inside : changed_outside) += changed ? 1 : 0;
    }
  }
  EXPECT_EQ(changed_outside, 0);
  EXPECT_GT(changed_inside, 0);
}

}  // namespace
}  // namespace farm::pipeline
