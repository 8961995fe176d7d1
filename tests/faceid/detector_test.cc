// The SSD MobileNet v1 net against face-api.js: sampleN.jpg decoded with libjpeg-turbo
// (pixel hash checked) must give the stored raw output of every anchor (scores and boxes
// within 1e-5), and Detect() the reference faces.
#include "farm/faceid/detector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "faceid_paths.h"
#include "farm/faceid/image_decode.h"
#include "farm/faceid/weights.h"
#include "farm/schemas/sha256.h"
#include "reference_json.h"

namespace farm::faceid {
namespace {

using testing::FloatsOf;
using testing::ReadJsonFile;

constexpr double kRawTolerance = 1e-5;

std::string PixelHash(const RgbImage& image) {
  return Sha256Hex(
      std::string_view(reinterpret_cast<const char*>(image.rgb.data()), image.rgb.size()));
}

class DetectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto models = testing::FindFaceModelDir();
    if (!models) return;
    auto net = SsdMobilenetV1::Load(*models);
    ASSERT_TRUE(net.ok()) << net.status().ToString();
    net_ = std::make_unique<SsdMobilenetV1>(std::move(net).value());
  }
  static void TearDownTestSuite() { net_.reset(); }
  void SetUp() override {
    if (!net_) GTEST_SKIP() << "face-api models not found (set STUDIOFARM_MODELS)";
  }
  static std::unique_ptr<SsdMobilenetV1> net_;
};
std::unique_ptr<SsdMobilenetV1> DetectorTest::net_;

TEST_F(DetectorTest, RawOutputMatchesFaceApiOnLibjpegTurboPixels) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  FARM_FACEID_REQUIRE_DEMO(demo);
  double worst_score = 0, worst_box = 0;
  int images = 0;
  for (int sample = 1; sample <= 3; ++sample) {
    const std::string name = "sample" + std::to_string(sample);
    SCOPED_TRACE(name);
    auto decoded = DecodeImageFile(demo + "/" + name + ".jpg");
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    const nlohmann::json raw_json = ReadJsonFile(reference + "/" + name + "_ssd_raw.json");
    const auto& expected = raw_json["by_decoder"]["libjpeg-turbo"];
    if (PixelHash(decoded->image) != expected["decoded_rgb_sha256"].get<std::string>()) {
      GTEST_SKIP() << name
                   << ".jpg does not decode to the reference's libjpeg-turbo pixels on this "
                   << "machine (a different libjpeg build?): the raw SSD output cannot be compared";
    }
    auto raw = net_->Forward(decoded->image);
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    const std::vector<float> scores = FloatsOf(expected["scores"]);
    const std::vector<float> boxes = FloatsOf(expected["boxes_ymin_xmin_ymax_xmax"]);
    ASSERT_EQ(raw->scores.size(), scores.size());
    ASSERT_EQ(raw->boxes.size(), boxes.size());
    double image_score = 0, image_box = 0;
    for (size_t i = 0; i < scores.size(); ++i) {
      const double d = std::abs(double(raw->scores[i]) - scores[i]);
      if (!(d <= image_score)) image_score = d;  // NaN counts as worst
    }
    for (size_t i = 0; i < boxes.size(); ++i) {
      const double d = std::abs(double(raw->boxes[i]) - boxes[i]);
      if (!(d <= image_box)) image_box = d;
    }
    std::printf("%s: raw SSD max |score diff| %.3g, max |box diff| %.3g\n", name.c_str(),
                image_score, image_box);
    worst_score = std::max(worst_score, image_score);
    worst_box = std::max(worst_box, image_box);
    EXPECT_LE(image_score, kRawTolerance);
    EXPECT_LE(image_box, kRawTolerance);

    // The detections through the same post-processing: the reference faces.
    auto faces = SsdPostProcess(*raw, decoded->image.width, decoded->image.height);
    ASSERT_TRUE(faces.ok());
    const nlohmann::json ref = ReadJsonFile(reference + "/" + name + ".json");
    const auto& ref_faces = ref["results_by_decoder"]["libjpeg-turbo"]["faces"];
    ASSERT_EQ(faces->size(), ref_faces.size());
    for (size_t i = 0; i < faces->size(); ++i) {
      EXPECT_NEAR((*faces)[i].box.x, ref_faces[i]["box"]["x"].get<double>(), 0.01);
      EXPECT_NEAR((*faces)[i].box.y, ref_faces[i]["box"]["y"].get<double>(), 0.01);
      EXPECT_NEAR((*faces)[i].score, ref_faces[i]["score"].get<double>(), 1e-5);
    }
    ++images;
  }
  std::printf("raw SSD over %d images: max |score diff| %.3g, max |box diff| %.3g\n", images,
              worst_score, worst_box);
}

TEST_F(DetectorTest, TinyAndEmptyImagesFindNoFace) {
  RgbImage tiny;
  tiny.width = 16;
  tiny.height = 9;
  tiny.rgb.assign(16 * 9 * 3, 128);
  auto faces = net_->Detect(tiny);
  ASSERT_TRUE(faces.ok()) << faces.status().ToString();
  EXPECT_TRUE(faces->empty());

  auto none = net_->Detect(RgbImage{});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(net_->Forward(RgbImage{}).ok());
}

TEST(DetectorWeights, MissingOrMisshapenTensorIsNamed) {
  // A manifest with only the first tensor, of the wrong shape.
  const std::string manifest = R"([{"paths": ["x.bin"], "weights": [
      {"name": "MobilenetV1/Conv2d_0_pointwise/weights", "shape": [3, 3, 3, 16], "dtype": "float32"}]}])";
  const std::string bytes(3 * 3 * 3 * 16 * 4, '\0');
  auto weights = TfjsWeights::Parse(manifest, bytes, "test-manifest");
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  auto net = SsdMobilenetV1::FromWeights(*weights);
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.status().message().find("MobilenetV1/Conv2d_0_pointwise/weights"),
            std::string::npos)
      << net.status().ToString();

  const std::string manifest2 = R"([{"paths": ["x.bin"], "weights": [
      {"name": "MobilenetV1/Conv2d_0_pointwise/weights", "shape": [3, 3, 3, 32], "dtype": "float32"}]}])";
  const std::string bytes2(3 * 3 * 3 * 32 * 4, '\0');
  auto weights2 = TfjsWeights::Parse(manifest2, bytes2, "test-manifest");
  ASSERT_TRUE(weights2.ok()) << weights2.status().ToString();
  auto net2 = SsdMobilenetV1::FromWeights(*weights2);
  ASSERT_FALSE(net2.ok());
  EXPECT_NE(net2.status().message().find("convolution_bn_offset"), std::string::npos)
      << net2.status().ToString();
}

TEST(DetectorWeights, MissingModelDirectoryIsAnError) {
  auto net = SsdMobilenetV1::Load("/nonexistent/face-api/model");
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.status().message().find("ssd_mobilenetv1_model"), std::string::npos)
      << net.status().ToString();
}

}  // namespace
}  // namespace farm::faceid
