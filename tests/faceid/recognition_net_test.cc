// The recognition net against face-api.js (recognition_net_test.json): the real chip of
// sample1 face 0 and two synthetic inputs; descriptors within 1e-5 absolute.
#include "farm/faceid/recognition_net.h"

#include <gtest/gtest.h>

#include <algorithm>
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

double MaxAbsDiff(const float* a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - b[i]);
    if (!(d <= worst)) worst = d;  // NaN propagates as a failure
  }
  return worst;
}

at::Tensor HwcTensor(const std::vector<float>& values, int h, int w) {
  at::Tensor t = at::empty({h, w, 3}, at::kFloat);
  std::memcpy(t.data_ptr<float>(), values.data(), values.size() * sizeof(float));
  return t;
}

class RecognitionNetTest : public testing::NetSuite<RecognitionNet> {
 protected:
  static void SetUpTestSuite() { LoadNetAndReference("recognition_net_test.json"); }
  const nlohmann::json& Case(const char* name) { return (*json_)["tests"][name]; }

};

TEST_F(RecognitionNetTest, Sample1Face0FromInput150) {
  const auto& c = Case("sample1_face0");
  const std::vector<float> expected = FloatsOf(c["descriptor"]);
  ASSERT_EQ(expected.size(), 128u);
  const at::Tensor out = net_->ForwardInput150(HwcTensor(FloatsOf(c["input150"]), 150, 150));
  ASSERT_EQ(out.numel(), 128);
  const double err = MaxAbsDiff(out.contiguous().data_ptr<float>(), expected);
  std::printf("sample1_face0 from input150: max |descriptor diff| = %.3g\n", err);
  EXPECT_LE(err, kTolerance);
}

TEST_F(RecognitionNetTest, Sample1Face0FromChipThroughDescribe) {
  const auto& c = Case("sample1_face0");
  const int h = c["chip_shape"][0], w = c["chip_shape"][1];
  const std::array<float, 128> descriptor = net_->Describe(ImageOf(c["chip_rgb"], w, h));
  const double err = MaxAbsDiff(descriptor.data(), FloatsOf(c["descriptor"]));
  std::printf("sample1_face0 from chip_rgb: max |descriptor diff| = %.3g\n", err);
  EXPECT_LE(err, kTolerance);
}

TEST_F(RecognitionNetTest, SyntheticA) {
  // v(y,x,c) = (7x + 13y + 29c) mod 256, already 150x150: the input is the image itself.
  RgbImage image{150, 150, {}};
  for (int y = 0; y < 150; ++y)
    for (int x = 0; x < 150; ++x)
      for (int ch = 0; ch < 3; ++ch) image.rgb.push_back((7 * x + 13 * y + 29 * ch) % 256);
  const auto& c = Case("synthetic_A_150x150");
  const std::vector<float> input150 = FloatsOf(c["input150"]);
  ASSERT_EQ(input150.size(), image.rgb.size());
  for (size_t i = 0; i < input150.size(); ++i) ASSERT_EQ(input150[i], image.rgb[i]) << i;
  const std::array<float, 128> descriptor = net_->Describe(image);
  const double err = MaxAbsDiff(descriptor.data(), FloatsOf(c["descriptor"]));
  std::printf("synthetic_A: max |descriptor diff| = %.3g\n", err);
  EXPECT_LE(err, kTolerance);
}

TEST_F(RecognitionNetTest, SyntheticB) {
  // 123 rows x 97 columns, v = (3x + 5y + 71c + ((x*y) mod 17)) mod 256; centred padding.
  RgbImage image{97, 123, {}};
  for (int y = 0; y < 123; ++y)
    for (int x = 0; x < 97; ++x)
      for (int ch = 0; ch < 3; ++ch) image.rgb.push_back((3 * x + 5 * y + 71 * ch + (x * y) % 17) % 256);
  const auto& c = Case("synthetic_B_123x97");
  const std::vector<float> expected = FloatsOf(c["descriptor"]);
  const double err_chip = MaxAbsDiff(net_->Describe(image).data(), expected);
  const at::Tensor from_input = net_->ForwardInput150(HwcTensor(FloatsOf(c["input150"]), 150, 150));
  const double err_input = MaxAbsDiff(from_input.contiguous().data_ptr<float>(), expected);
  std::printf("synthetic_B: max |descriptor diff| from image %.3g, from input150 %.3g\n", err_chip,
              err_input);
  EXPECT_LE(err_chip, kTolerance);
  EXPECT_LE(err_input, kTolerance);
}

TEST_F(RecognitionNetTest, DeterministicAcrossCalls) {
  const auto& c = Case("sample1_face0");
  const at::Tensor input = HwcTensor(FloatsOf(c["input150"]), 150, 150);
  EXPECT_TRUE(at::equal(net_->ForwardInput150(input), net_->ForwardInput150(input)));
}

TEST(RecognitionNetLoad, MissingFolderIsNotFound) {
  auto net = RecognitionNet::Load("/nonexistent/face-api/model");
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.status().code(), StatusCode::kNotFound);
  EXPECT_NE(net.status().message().find("face_recognition_model-weights_manifest.json"),
            std::string::npos);
}

TEST(RecognitionNetLoad, WrongWeightsNameTheTensor) {
  // The landmark model's weights are not a recognition net: the error names a tensor.
  FARM_FACEID_REQUIRE_MODELS(models);
  auto weights = TfjsWeights::Load(models + "/face_landmark_68_model-weights_manifest.json");
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  auto net = RecognitionNet::FromWeights(weights.value());
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.status().message().find("conv32_down/conv/filters"), std::string::npos)
      << net.status().message();
}

}  // namespace
}  // namespace farm::faceid
