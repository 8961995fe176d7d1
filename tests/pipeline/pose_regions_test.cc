// The detailer's hands and person regions from the human-models nets, checked against the
// whole pose extraction (kernels/pose) on face-api's demo photos: the hands are the
// extraction's detector boxes, and every body the extraction keeps lies in a person box.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "farm/faceid/image_decode.h"
#include "farm/pipeline/pose_regions.h"
#include "farm/pose/extract.h"

namespace farm::pipeline {
namespace {

std::string ModelsRoot() {
  if (const char* dir = std::getenv("STUDIOFARM_MODELS"); dir && *dir) return dir;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/studiofarm/models";
}

class PoseRegions : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = ModelsRoot() + "/human-models";
    if (!std::filesystem::exists(dir + "/" + farm::pose::kMoveNetFile)) return;
    auto finder = LoadPoseRegionFinder(dir);
    ASSERT_TRUE(finder.ok()) << finder.status().ToString();
    finder_ = *finder;
    auto models = farm::pose::PoseModels::Load(dir);
    ASSERT_TRUE(models.ok()) << models.status().ToString();
    models_ = std::make_unique<farm::pose::PoseModels>(std::move(*models));
  }
  static void TearDownTestSuite() {
    finder_.reset();
    models_.reset();
  }
  void SetUp() override {
    if (!finder_) GTEST_SKIP() << "human-models not installed (tools/setup.sh fetches them)";
  }
  // Calls `check` with each of the first three demo photos present and the extraction of
  // it; skips when none is installed.
  template <typename Check>
  void ForEachPhoto(const Check& check) {
    int photos = 0;
    for (int n = 1; n <= 3; ++n) {
      auto decoded =
          farm::faceid::DecodeImageFile(ModelsRoot() + "/face-api/demo/sample" + std::to_string(n) + ".jpg");
      if (!decoded.ok()) continue;
      ++photos;
      SCOPED_TRACE("sample" + std::to_string(n));
      auto extraction = farm::pose::ExtractPoses(decoded->image, *models_);
      ASSERT_TRUE(extraction.ok()) << extraction.status().ToString();
      check(decoded->image, *extraction);
    }
    if (photos == 0) GTEST_SKIP() << "face-api demo photos not installed";
  }
  static inline std::shared_ptr<const RegionFinder> finder_;
  static inline std::unique_ptr<farm::pose::PoseModels> models_;
};

bool Inside(const Region& r, double x, double y, double margin) {
  return x >= r.x - margin && x <= r.x + r.width + margin && y >= r.y - margin && y <= r.y + r.height + margin;
}

TEST_F(PoseRegions, HandsAreTheDetectorBoxesOfTheExtraction) {
  ForEachPhoto([&](const farm::faceid::RgbImage& photo, const farm::pose::PoseExtraction& extraction) {
    auto hands = finder_->Find(photo, "hands", 0.5);
    ASSERT_TRUE(hands.ok()) << hands.status().ToString();
    ASSERT_EQ(hands->size(), extraction.hands.size());
    for (size_t i = 0; i < hands->size(); ++i) {
      EXPECT_GE((*hands)[i].score, 0.5);
      // The hand's wrist (its keypoint 0) lies in its detector box grown by half its size.
      const auto& wrist = extraction.hands[i].keypoints.at(0);
      const Region& r = (*hands)[i];
      EXPECT_TRUE(Inside(r, wrist[0], wrist[1], 0.5 * std::max(r.width, r.height))) << "hand " << i;
    }
    // A lower confidence finds at least as many, best first.
    auto more = finder_->Find(photo, "hands", 0.1);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    EXPECT_GE(more->size(), hands->size());
    for (size_t i = 1; i < more->size(); ++i) EXPECT_GE((*more)[i - 1].score, (*more)[i].score);
  });
}

TEST_F(PoseRegions, EveryBodyOfTheExtractionLiesInAPersonBox) {
  ForEachPhoto([&](const farm::faceid::RgbImage& photo, const farm::pose::PoseExtraction& extraction) {
    auto people = finder_->Find(photo, "person", 0.3);
    ASSERT_TRUE(people.ok()) << people.status().ToString();
    ASSERT_FALSE(extraction.bodies.empty());
    EXPECT_GE(people->size(), extraction.bodies.size());
    for (size_t b = 0; b < extraction.bodies.size(); ++b) {
      const farm::pose::Body& body = extraction.bodies[b];
      bool found = false;
      for (const Region& r : *people) {
        int inside = 0;
        for (const auto& k : body.keypoints) inside += Inside(r, k.position[0], k.position[1], 0.1 * r.width) ? 1 : 0;
        found = found || inside * 10 >= static_cast<int>(body.keypoints.size()) * 9;
      }
      EXPECT_TRUE(found) << "body " << b << " lies in no person box";
    }
  });
}

TEST_F(PoseRegions, UnknownTargetsAndBadImagesAreErrors) {
  farm::faceid::RgbImage grey{64, 48, std::vector<uint8_t>(64 * 48 * 3, 128)};
  EXPECT_EQ(finder_->Find(grey, "feet", 0.3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(finder_->Find({4, 4, {}}, "hands", 0.3).status().code(), StatusCode::kInvalidArgument);
  // A tiny or featureless image is no error: it has no hands.
  auto tiny = finder_->Find({2, 2, std::vector<uint8_t>(12, 200)}, "hands", 0.3);
  ASSERT_TRUE(tiny.ok()) << tiny.status().ToString();
  EXPECT_TRUE(tiny->empty());
  auto none = finder_->Find(grey, "person", 0.3);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
}

TEST(PoseRegionsLoad, AMissingModelFolderSaysWhatToDo) {
  auto finder = LoadPoseRegionFinder("/nonexistent/human-models");
  ASSERT_FALSE(finder.ok());
  EXPECT_EQ(finder.status().code(), StatusCode::kNotFound);
  EXPECT_NE(finder.status().message().find("tools/setup.sh"), std::string::npos) << finder.status().ToString();
}

}  // namespace
}  // namespace farm::pipeline
