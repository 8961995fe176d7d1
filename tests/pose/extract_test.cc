// The whole extraction from the photo against human 3.3.6 (../shared/reference/pose):
// with the reference's decoded pixels the bodies, hands and OpenPose people agree within
// the README's end-to-end tolerances (same count, order and keypoint sets; positions
// within one rounding step; scores within 0.01). Plus bad input: tiny, grey-level, blank.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "farm/faceid/image_decode.h"
#include "farm/pose/extract.h"
#include "human_reference.h"

namespace farm::pose {
namespace {

using testing::ReadJson;
using testing::ReferenceSamples;

std::optional<std::string> HumanModelDir() {
  namespace fs = std::filesystem;
  fs::path root;
  if (const char* dir = std::getenv("STUDIOFARM_MODELS"); dir && *dir) {
    root = dir;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    root = fs::path(home) / ".cache" / "studiofarm" / "models";
  }
  std::error_code ec;
  if (root.empty() || !fs::exists(root / "human-models" / kMoveNetFile, ec)) return std::nullopt;
  return (root / "human-models").string();
}

class Extract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto dir = HumanModelDir();
    if (!dir) return;
    auto models = PoseModels::Load(*dir);
    ASSERT_TRUE(models.ok()) << models.status().ToString();
    models_ = std::make_unique<PoseModels>(std::move(*models));
  }
  static void TearDownTestSuite() { models_.reset(); }
  void SetUp() override {
    if (!models_) GTEST_SKIP() << "human-models not found (set STUDIOFARM_MODELS; tools/setup.sh fetches them)";
  }
  static inline std::unique_ptr<PoseModels> models_;
};

TEST_F(Extract, ReferencePhotosGiveHumansBodiesAndHands) {
  FARM_POSE_REQUIRE_REFERENCE(dir);
  const auto photos = testing::FindDemoPhotoDir();
  if (!photos) GTEST_SKIP() << "face-api demo photos not found (set STUDIOFARM_MODELS)";
  int checked = 0;
  for (const std::string& sample : ReferenceSamples(dir)) {
    const nlohmann::json reference = ReadJson(dir + "/" + sample + ".json");
    const std::string photo = *photos + "/" + reference.at("image").at("file").get<std::string>();
    if (!std::filesystem::exists(photo)) continue;
    SCOPED_TRACE(sample);
    auto decoded = faceid::DecodeImageFile(photo);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    const auto& image = decoded->image;
    ASSERT_EQ(testing::Sha256Hex(image.rgb.data(), image.rgb.size()),
              reference.at("decoded_rgb_sha256").get<std::string>());
    auto extraction = ExtractPoses(image, *models_);
    ASSERT_TRUE(extraction.ok()) << extraction.status().ToString();

    const auto& pre = reference.at("movenet").at("preprocessing").at("padding_top_bottom_left_right");
    const double y_step = (image.height + pre[0].get<double>() + pre[1].get<double>()) / image.height;
    const double x_step = (image.width + pre[2].get<double>() + pre[3].get<double>()) / image.width;
    const nlohmann::json& bodies = reference.at("movenet").at("bodies");
    ASSERT_EQ(extraction->bodies.size(), bodies.size());
    for (size_t b = 0; b < bodies.size(); ++b) {
      const Body& body = extraction->bodies[b];
      EXPECT_EQ(body.id, bodies[b].at("id").get<int>()) << "body " << b;
      EXPECT_NEAR(body.score, bodies[b].at("score").get<double>(), 0.01 + 1e-9) << "body " << b;
      ASSERT_EQ(body.keypoints.size(), bodies[b].at("keypoints").size()) << "body " << b;
      for (size_t k = 0; k < body.keypoints.size(); ++k) {
        const auto& e = bodies[b].at("keypoints")[k];
        EXPECT_EQ(BodyPartName(body.keypoints[k].part), e.at("part").get<std::string>());
        EXPECT_NEAR(body.keypoints[k].position[0], e.at("position")[0].get<double>(), x_step + 1e-9);
        EXPECT_NEAR(body.keypoints[k].position[1], e.at("position")[1].get<double>(), y_step + 1e-9);
        EXPECT_NEAR(body.keypoints[k].score, e.at("score").get<double>(), 0.01 + 1e-9);
      }
    }
    const nlohmann::json& hands = reference.at("hand").at("hands");
    ASSERT_EQ(extraction->hands.size(), hands.size());
    for (size_t h = 0; h < hands.size(); ++h) {
      const Hand& hand = extraction->hands[h];
      EXPECT_EQ(hand.label, hands[h].at("label").get<std::string>());
      const auto box = hands[h].at("detector").at("box_px_trunc").get<std::array<int, 4>>();
      for (int i = 0; i < 4; ++i) EXPECT_NEAR(hand.detection.box_px[i], box[i], 1) << "hand " << h;
      ASSERT_EQ(hand.keypoints.size(), hands[h].at("keypoints").size());
      for (size_t k = 0; k < hand.keypoints.size(); ++k) {
        EXPECT_NEAR(hand.keypoints[k][0], hands[h].at("keypoints")[k][0].get<double>(), 1.0) << "hand " << h;
        EXPECT_NEAR(hand.keypoints[k][1], hands[h].at("keypoints")[k][1].get<double>(), 1.0) << "hand " << h;
      }
    }
    // OpenPose people: same visibility and wrist assignment as the reference file.
    const nlohmann::json expected = ReadJson(dir + "/" + reference.at("openpose").at("file").get<std::string>());
    ASSERT_EQ(extraction->openpose.people.size(), expected.at("people").size());
    for (size_t p = 0; p < expected.at("people").size(); ++p) {
      const auto& want = expected.at("people")[p];
      const auto& got = extraction->openpose.people[p];
      for (int i = 0; i < kOpenPoseBodyPoints; ++i) {
        EXPECT_EQ(got.body[i].confidence > 0, want.at("pose_keypoints_2d")[3 * i + 2].get<double>() > 0)
            << "person " << p << " point " << i;
      }
      EXPECT_EQ(got.hand_left.size() / 1, want.at("hand_left_keypoints_2d").size() / 3);
      EXPECT_EQ(got.hand_right.size() / 1, want.at("hand_right_keypoints_2d").size() / 3);
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "none of the reference photos is in " << *photos;
}

TEST_F(Extract, TinyAndBlankImagesGiveNoPeopleWithoutFailing) {
  for (int side : {1, 3, 8}) {
    faceid::RgbImage image;
    image.width = side;
    image.height = side;
    image.rgb.assign(static_cast<size_t>(side) * side * 3, 128);
    auto extraction = ExtractPoses(image, *models_);
    ASSERT_TRUE(extraction.ok()) << side << ": " << extraction.status().ToString();
    EXPECT_TRUE(extraction->bodies.empty()) << side;
    EXPECT_EQ(extraction->openpose.canvas_width, side);
  }
}

TEST_F(Extract, MalformedImageIsAClearError) {
  faceid::RgbImage image;
  image.width = 4;
  image.height = 4;
  image.rgb.assign(10, 0);
  auto extraction = ExtractPoses(image, *models_);
  ASSERT_FALSE(extraction.ok());
  EXPECT_NE(extraction.status().message().find("4x4"), std::string::npos) << extraction.status().ToString();
}

}  // namespace
}  // namespace farm::pose
