// Input preparation (face-api's toBatchTensor) and Crop: hand-checked cases plus the
// reference inputs of recognition_net_test.json and landmark_net_test.json.
#include "farm/faceid/preprocess.h"

#include <gtest/gtest.h>

#include <cmath>

#include "faceid_paths.h"
#include "farm/faceid/image.h"
#include "reference_json.h"

namespace farm::faceid {
namespace {

using testing::FloatsOf;
using testing::ImageOf;
using testing::ReadJsonFile;

// Max |a - b| over all values and how many differ at all.
struct Diff {
  double max_abs = 0;
  size_t differing = 0;
};
Diff Compare(const at::Tensor& out, const std::vector<float>& expected) {
  Diff diff;
  const at::Tensor c = out.contiguous();
  EXPECT_EQ(c.numel(), static_cast<int64_t>(expected.size()));
  const float* v = c.data_ptr<float>();
  for (size_t i = 0; i < expected.size() && i < static_cast<size_t>(c.numel()); ++i) {
    const double d = std::abs(static_cast<double>(v[i]) - expected[i]);
    if (!(d <= diff.max_abs)) diff.max_abs = d;
    if (v[i] != expected[i]) ++diff.differing;
  }
  return diff;
}

RgbImage Gradient(int w, int h) {
  RgbImage image{w, h, {}};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) image.rgb.push_back(static_cast<uint8_t>(1 + x + 10 * y + 100 * c));
  return image;
}

TEST(PadToSquare, CenteredWidePutsRoundedHalfAfter) {
  // 2 rows x 5 columns: diff 3, Math.round(1.5) = 2 rows after, 1 before.
  const at::Tensor out = PadToSquare(Gradient(5, 2), /*centered=*/true);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 5, 3}));
  EXPECT_EQ(out[0].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(out[1][0][0].item<float>(), 1.0f);
  EXPECT_EQ(out[2][4][2].item<float>(), 1 + 4 + 10 + 200);
  EXPECT_EQ(out[3].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(out[4].abs().sum().item<float>(), 0.0f);
}

TEST(PadToSquare, NotCenteredTallPadsRight) {
  const at::Tensor out = PadToSquare(Gradient(2, 5), /*centered=*/false);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 5, 3}));
  EXPECT_EQ(out[0][0][0].item<float>(), 1.0f);
  EXPECT_EQ(out[4][1][1].item<float>(), 1 + 1 + 40 + 100);
  EXPECT_EQ(out.narrow(1, 2, 3).abs().sum().item<float>(), 0.0f);
}

TEST(PadToSquare, CenteredTallSplitsEvenDiff) {
  // 4 columns short: 2 before, 2 after.
  const at::Tensor out = PadToSquare(Gradient(1, 5), /*centered=*/true);
  EXPECT_EQ(out.narrow(1, 0, 2).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(out[0][2][0].item<float>(), 1.0f);
  EXPECT_EQ(out.narrow(1, 3, 2).abs().sum().item<float>(), 0.0f);
}

TEST(ResizeBilinear, MatchesTfjsFormula) {
  // One row [0, 10] -> width 3: source columns 0, 2/3, 4/3 (clamped to the last pixel).
  at::Tensor in = at::tensor({0.0f, 10.0f}, at::kFloat).reshape({1, 2, 1});
  const at::Tensor out = ResizeBilinear(in, 1, 3);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{1, 3, 1}));
  EXPECT_EQ(out[0][0][0].item<float>(), 0.0f);
  EXPECT_EQ(out[0][1][0].item<float>(), static_cast<float>(10.0 * (2.0 / 3.0)));
  EXPECT_EQ(out[0][2][0].item<float>(), 10.0f);
}

TEST(ResizeBilinear, SameSizeIsUnchanged) {
  const at::Tensor in = at::rand({4, 3, 3});
  EXPECT_TRUE(at::equal(ResizeBilinear(in, 4, 3), in));
}

TEST(ToBatchTensor, EmptyImageGivesZeros) {
  const at::Tensor out = ToBatchTensor(RgbImage{}, 8, true);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{8, 8, 3}));
  EXPECT_EQ(out.abs().sum().item<float>(), 0.0f);
}

TEST(Crop, CopiesTheRegion) {
  const RgbImage image = Gradient(6, 4);
  const RgbImage crop = Crop(image, 2, 1, 3, 2);
  ASSERT_EQ(crop.width, 3);
  ASSERT_EQ(crop.height, 2);
  ASSERT_EQ(crop.rgb.size(), 18u);
  EXPECT_EQ(crop.rgb[0], 1 + 2 + 10);
  EXPECT_EQ(crop.rgb[17], 1 + 4 + 20 + 200);
}

TEST(Crop, ClipsInsteadOfReadingOutside) {
  const RgbImage image = Gradient(6, 4);
  const RgbImage crop = Crop(image, 4, -2, 10, 10);
  EXPECT_EQ(crop.width, 2);
  EXPECT_EQ(crop.height, 4);
  EXPECT_EQ(crop.rgb.size(), 24u);
  EXPECT_EQ(Crop(image, 7, 0, 3, 3).rgb.size(), 0u);
  EXPECT_EQ(Crop(image, 1, 1, -3, 2).width, 0);
}

TEST(ToBatchTensorReference, SyntheticB123x97) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  RgbImage image{97, 123, {}};
  for (int y = 0; y < 123; ++y)
    for (int x = 0; x < 97; ++x)
      for (int c = 0; c < 3; ++c) image.rgb.push_back((3 * x + 5 * y + 71 * c + (x * y) % 17) % 256);
  const auto json = ReadJsonFile(reference + "/recognition_net_test.json");
  const Diff diff = Compare(ToBatchTensor(image, 150, /*centered=*/true),
                            FloatsOf(json["tests"]["synthetic_B_123x97"]["input150"]));
  std::printf("synthetic_B input150: max abs diff %.3g, %zu values differ\n", diff.max_abs, diff.differing);
  EXPECT_LE(diff.max_abs, 1e-4);
}

TEST(ToBatchTensorReference, RecognitionChipSample1) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  const auto json = ReadJsonFile(reference + "/recognition_net_test.json");
  const auto& c = json["tests"]["sample1_face0"];
  const RgbImage chip = ImageOf(c["chip_rgb"], c["chip_shape"][1], c["chip_shape"][0]);
  const Diff diff = Compare(ToBatchTensor(chip, 150, /*centered=*/true), FloatsOf(c["input150"]));
  std::printf("sample1_face0 input150: max abs diff %.3g, %zu values differ\n", diff.max_abs, diff.differing);
  EXPECT_LE(diff.max_abs, 1e-4);
}

TEST(ToBatchTensorReference, LandmarkChipSample1) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  const auto json = ReadJsonFile(reference + "/landmark_net_test.json");
  const RgbImage chip = ImageOf(json["chip_rgb"], json["chip_shape"][1], json["chip_shape"][0]);
  const Diff diff = Compare(ToBatchTensor(chip, 112, /*centered=*/true), FloatsOf(json["input112"]));
  std::printf("landmark input112: max abs diff %.3g, %zu values differ\n", diff.max_abs, diff.differing);
  EXPECT_LE(diff.max_abs, 1e-4);
}

}  // namespace
}  // namespace farm::faceid
