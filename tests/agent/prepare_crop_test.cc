// The crop rule and the dataset key of training-data preparation (agent/prepare), without
// models: SquareCropAroundFace's placement and clamping, captions, settings checks, the
// manifest's round trip and the content address.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "farm/agent/face_crop.h"
#include "farm/agent/prepare_manifest.h"

namespace farm::agent {
namespace {

void ExpectSquareInside(const PixelRect& crop, int width, int height) {
  EXPECT_EQ(crop.width, crop.height);
  EXPECT_GE(crop.width, 1);
  EXPECT_GE(crop.x, 0);
  EXPECT_GE(crop.y, 0);
  EXPECT_LE(crop.x + crop.width, width);
  EXPECT_LE(crop.y + crop.height, height);
}

TEST(SquareCropAroundFace, CentredOnTheFaceWithTheRatioTimesTheLongerSide) {
  auto crop = SquareCropAroundFace({400, 300, 100, 140}, 2000, 1500, 3.0);
  ASSERT_TRUE(crop.ok()) << crop.status().ToString();
  EXPECT_EQ(crop->width, 420);
  // Centre (450, 370) - 210.
  EXPECT_EQ(*crop, (PixelRect{240, 160, 420, 420}));
}

TEST(SquareCropAroundFace, NearAnEdgeItIsShiftedInsideNotShrunk) {
  auto crop = SquareCropAroundFace({10, 5, 100, 100}, 1000, 800, 3.0);
  ASSERT_TRUE(crop.ok());
  EXPECT_EQ(*crop, (PixelRect{0, 0, 300, 300}));
  crop = SquareCropAroundFace({890, 690, 100, 100}, 1000, 800, 3.0);
  ASSERT_TRUE(crop.ok());
  EXPECT_EQ(*crop, (PixelRect{700, 500, 300, 300}));
}

TEST(SquareCropAroundFace, TooLargeBecomesTheLargestSquareThatFitsAndHoldsTheFace) {
  // Wanted 720 px in a 400x490 photo: the 400 px square, placed to hold the face.
  const FaceBox face{114, 125, 178, 240};
  auto crop = SquareCropAroundFace(face, 400, 490, 3.0);
  ASSERT_TRUE(crop.ok());
  EXPECT_EQ(crop->width, 400);
  ExpectSquareInside(*crop, 400, 490);
  EXPECT_LE(crop->y, face.y);
  EXPECT_GE(crop->y + crop->height, face.y + face.height);
}

TEST(SquareCropAroundFace, RandomFacesGiveSquaresInsideTheImageHoldingTheFace) {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> side(32, 3000);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 2000; ++i) {
    const int width = side(rng), height = side(rng);
    FaceBox face;
    face.width = 1 + unit(rng) * (width - 1);
    face.height = 1 + unit(rng) * (height - 1);
    face.x = unit(rng) * (width - face.width);
    face.y = unit(rng) * (height - face.height);
    const double ratio = 1.0 + unit(rng) * 4.0;
    auto crop = SquareCropAroundFace(face, width, height, ratio);
    ASSERT_TRUE(crop.ok()) << crop.status().ToString();
    ExpectSquareInside(*crop, width, height);
    const double wanted = std::round(ratio * std::max(face.width, face.height));
    EXPECT_EQ(crop->width, static_cast<int>(std::min<double>(wanted, std::min(width, height))));
    // The face is inside (to rounding) whenever a square that fits can hold it.
    if (std::max(face.width, face.height) + 1 <= crop->width) {
      EXPECT_LE(crop->x, face.x + 0.5) << i;
      EXPECT_LE(crop->y, face.y + 0.5) << i;
      EXPECT_GE(crop->x + crop->width, face.x + face.width - 0.5) << i;
      EXPECT_GE(crop->y + crop->height, face.y + face.height - 0.5) << i;
    }
  }
}

TEST(SquareCropAroundFace, RefusesBadInput) {
  EXPECT_FALSE(SquareCropAroundFace({0, 0, 10, 10}, 0, 100, 3.0).ok());
  EXPECT_FALSE(SquareCropAroundFace({0, 0, 0, 10}, 100, 100, 3.0).ok());
  EXPECT_FALSE(SquareCropAroundFace({0, 0, 10, 10}, 100, 100, 0.5).ok());
  EXPECT_FALSE(SquareCropAroundFace({0, 0, 10, 10}, 100, 100, std::nan("")).ok());
}

TEST(PrepareManifest, CaptionReplacesEveryToken) {
  EXPECT_EQ(ExpandCaption("a photo of {token}", "sks person"), "a photo of sks person");
  EXPECT_EQ(ExpandCaption("{token}, {token}", "x"), "x, x");
  EXPECT_EQ(ExpandCaption("easyphoto_face, easyphoto, 1person", "x"), "easyphoto_face, easyphoto, 1person");
}

TEST(PrepareManifest, SettingsOutOfRangeAreRefused) {
  PrepareSettings s;
  EXPECT_TRUE(ValidateSettings(s).ok());
  s.resolution = 500;
  EXPECT_NE(ValidateSettings(s).message().find("multiple of 8"), std::string::npos);
  s = {};
  s.crop_ratio = 0.9;
  EXPECT_FALSE(ValidateSettings(s).ok());
  s = {};
  s.caption_template = "";
  EXPECT_FALSE(ValidateSettings(s).ok());
}

DatasetManifest Key() {
  DatasetManifest m;
  m.face_detector = "ssd_mobilenetv1@0123456789ab";
  m.instance_token = "sks person";
  m.photo_sha256 = {std::string(64, 'b'), std::string(64, 'a')};
  return m;
}

TEST(PrepareManifest, DatasetIdDependsOnSettingsAndPhotosNotTheirOrder) {
  DatasetManifest a = Key();
  DatasetManifest b = Key();
  std::reverse(b.photo_sha256.begin(), b.photo_sha256.end());
  EXPECT_EQ(DatasetId(a), DatasetId(b));
  EXPECT_EQ(DatasetId(a).size(), 64u);
  for (auto change : std::vector<void (*)(DatasetManifest&)>{
           [](DatasetManifest& m) { m.settings.crop_ratio = 2.5; },
           [](DatasetManifest& m) { m.settings.resolution = 768; },
           [](DatasetManifest& m) { m.settings.caption_template = "{token}"; },
           [](DatasetManifest& m) { m.settings.pick_largest = true; },
           [](DatasetManifest& m) { m.instance_token = "ohwx man"; },
           [](DatasetManifest& m) { m.face_detector = "ssd_mobilenetv1@ffffffffffff"; },
           [](DatasetManifest& m) { m.prepare_version = "studiofarm-prepare/0"; },
           [](DatasetManifest& m) { m.photo_sha256.pop_back(); }}) {
    DatasetManifest changed = Key();
    change(changed);
    EXPECT_NE(DatasetId(changed), DatasetId(a)) << DatasetKeyJson(changed);
  }
  // Outputs are not part of the key.
  DatasetManifest with_outputs = Key();
  with_outputs.warnings.push_back("w");
  with_outputs.skipped.push_back({"x.png", std::string(64, 'a'), "no face found"});
  EXPECT_EQ(DatasetId(with_outputs), DatasetId(a));
}

TEST(PrepareManifest, JsonRoundTrip) {
  DatasetManifest m = Key();
  m.settings.pick_largest = true;
  m.dataset_id = DatasetId(m);
  PreparedImage image;
  image.file = "images/000.png";
  image.source_name = "a.jpg";
  image.source_sha256 = std::string(64, 'a');
  image.source_width = 1920;
  image.source_height = 1280;
  image.faces_found = 3;
  image.face_score = 0.99;
  image.face_box = {414.1, 354.8, 177.3, 239.8};
  image.crop_box = {143, 115, 719, 719};
  image.caption = "a photo of sks person";
  image.sha256 = std::string(64, 'c');
  m.images.push_back(image);
  m.skipped.push_back({"b.jpg", std::string(64, 'b'), "no face found"});
  m.warnings.push_back("only 1 usable photo");
  auto parsed = ParseManifestJson(ManifestJson(m), "manifest.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(ManifestJson(*parsed), ManifestJson(m));
  EXPECT_EQ(parsed->images[0].crop_box, image.crop_box);
  EXPECT_DOUBLE_EQ(parsed->images[0].face_box.x, 414.1);
  EXPECT_TRUE(parsed->settings.pick_largest);

  auto broken = ParseManifestJson(R"({"format":"studiofarm-prepared-dataset","format_version":1})", "m.json");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("dataset_id"), std::string::npos) << broken.status().message();
  EXPECT_FALSE(ParseManifestJson("{", "m.json").ok());
}

}  // namespace
}  // namespace farm::agent
