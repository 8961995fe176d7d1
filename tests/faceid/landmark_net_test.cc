// The landmark net against face-api.js (landmark_net_test.json, sample1 face 0): raw
// outputs and post-processed landmarks within 1e-5 absolute.
#include "farm/faceid/landmark_net.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "faceid_paths.h"
#include "farm/faceid/preprocess.h"
#include "farm/faceid/weights.h"
#include "net_suite.h"
#include "reference_json.h"

namespace farm::faceid {
namespace {

using testing::FloatsOf;
using testing::ImageOf;
using testing::ReadJsonFile;

constexpr double kTolerance = 1e-5;

double MaxAbsDiff(const at::Tensor& out, const std::vector<float>& expected) {
  const at::Tensor c = out.contiguous();
  EXPECT_EQ(c.numel(), static_cast<int64_t>(expected.size()));
  double worst = 0;
  for (size_t i = 0; i < expected.size() && i < static_cast<size_t>(c.numel()); ++i) {
    const double d = std::abs(static_cast<double>(c.data_ptr<float>()[i]) - expected[i]);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

double MaxAbsDiff(const std::vector<std::array<double, 2>>& points, const nlohmann::json& expected) {
  EXPECT_EQ(points.size(), expected.size());
  double worst = 0;
  for (size_t i = 0; i < points.size() && i < expected.size(); ++i) {
    for (int k = 0; k < 2; ++k) {
      const double d = std::abs(points[i][k] - expected[i][k].get<double>());
      if (!(d <= worst)) worst = d;
    }
  }
  return worst;
}

class LandmarkNetTest : public testing::NetSuite<LandmarkNet> {
 protected:
  static void SetUpTestSuite() { LoadNetAndReference("landmark_net_test.json"); }
  RgbImage Chip() {
    const auto& j = *json_;
    return ImageOf(j["chip_rgb"], j["chip_shape"][1].get<int>(), j["chip_shape"][0].get<int>());
  }

};

TEST_F(LandmarkNetTest, RawOutputFromInput112) {
  const std::vector<float> input = FloatsOf((*json_)["input112"]);
  ASSERT_EQ(input.size(), 112u * 112u * 3u);
  at::Tensor hwc = at::empty({112, 112, 3}, at::kFloat);
  std::memcpy(hwc.data_ptr<float>(), input.data(), input.size() * sizeof(float));
  const double err = MaxAbsDiff(net_->ForwardInput112(hwc), FloatsOf((*json_)["raw_output_136"]));
  std::printf("raw_output_136 from input112: max abs diff = %.3g\n", err);
  EXPECT_LE(err, kTolerance);
}

TEST_F(LandmarkNetTest, RawOutputFromChip) {
  const RgbImage chip = Chip();
  EXPECT_EQ(chip.width, 177);
  EXPECT_EQ(chip.height, 238);
  const at::Tensor raw = net_->ForwardInput112(ToBatchTensor(chip, 112, /*centered=*/true));
  const double err = MaxAbsDiff(raw, FloatsOf((*json_)["raw_output_136"]));
  std::printf("raw_output_136 from chip_rgb: max abs diff = %.3g\n", err);
  EXPECT_LE(err, kTolerance);
}

TEST_F(LandmarkNetTest, LandmarksRelativeToCrop) {
  const auto points = net_->LandmarksRelativeToCrop(Chip());
  ASSERT_EQ(points.size(), 68u);
  const double err = MaxAbsDiff(points, (*json_)["landmarks_relative_to_crop"]);
  std::printf("landmarks_relative_to_crop from chip_rgb: max abs diff = %.3g\n", err);
  EXPECT_LE(err, kTolerance);
}

TEST_F(LandmarkNetTest, PostProcessOfReferenceRawOutputIsExact) {
  // The post-processing alone, fed face-api's own raw output, reproduces its landmarks.
  const std::vector<float> raw = FloatsOf((*json_)["raw_output_136"]);
  const at::Tensor t = at::from_blob(const_cast<float*>(raw.data()), {136}, at::kFloat).clone();
  const auto points = LandmarkNet::PostProcess(t, 177, 238);
  EXPECT_EQ(MaxAbsDiff(points, (*json_)["landmarks_relative_to_crop"]), 0.0);
}

TEST(LandmarkNetPostProcess, WideCropShiftsY) {
  // w > h: padding goes along y; a point at the square's centre maps to the crop centre.
  at::Tensor raw = at::full({136}, 0.5f, at::kFloat);
  const auto points = LandmarkNet::PostProcess(raw, 200, 100);
  EXPECT_NEAR(points[0][0], 0.5, 1e-7);
  EXPECT_NEAR(points[0][1], 0.5, 1e-7);
  raw[1] = 0.25f;  // y at a quarter of the square = the top edge of the 50-px-high content
  EXPECT_NEAR(LandmarkNet::PostProcess(raw, 200, 100)[0][1], 0.0, 1e-7);
}

}  // namespace
}  // namespace farm::faceid
