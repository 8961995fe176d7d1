// SSD post-processing (README step 1) against face-api.js: the stored raw output of every
// anchor, for each decoder of sample1-3, must give that decoder's faces exactly.
#include "farm/faceid/ssd_postprocess.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "faceid_paths.h"
#include "reference_json.h"

namespace farm::faceid {
namespace {

using testing::FloatsOf;
using testing::ReadJsonFile;

TEST(SsdNonMaxSuppression, SuppressesOverlapsKeepsOrderAndLimits) {
  // ymin, xmin, ymax, xmax
  const std::vector<float> boxes = {
      0.0f, 0.0f, 0.5f, 0.5f,   // 0
      0.0f, 0.0f, 0.5f, 0.45f,  // 1: IoU 0.9 with 0
      0.5f, 0.5f, 1.0f, 1.0f,   // 2: disjoint
      0.0f, 0.0f, 0.5f, 0.5f,   // 3: identical to 0
      0.6f, 0.0f, 0.9f, 0.3f,   // 4: disjoint
  };
  const std::vector<float> scores = {0.9f, 0.95f, 0.7f, 0.9f, 0.5f};
  // 1 (0.95) first; 0 and 3 overlap it by 0.9; 2 survives; 4 is not > 0.5.
  EXPECT_EQ(SsdNonMaxSuppression(boxes, scores, 100, 0.5, 0.5), (std::vector<int>{1, 2}));
  // A lower threshold admits 4; at most 2 results.
  EXPECT_EQ(SsdNonMaxSuppression(boxes, scores, 100, 0.5, 0.4), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(SsdNonMaxSuppression(boxes, scores, 2, 0.5, 0.4), (std::vector<int>{1, 2}));
  // A loose IoU threshold keeps overlapping boxes; equal scores keep anchor order (0 before 3).
  EXPECT_EQ(SsdNonMaxSuppression(boxes, scores, 100, 1.0, 0.5), (std::vector<int>{1, 0, 3, 2}));
}

TEST(SsdPostProcess, RejectsInconsistentInput) {
  SsdRawOutput raw;
  raw.scores = {0.9f};
  raw.boxes = {0.f, 0.f, 1.f};
  EXPECT_FALSE(SsdPostProcess(raw, 100, 100).ok());
  raw.boxes.push_back(1.f);
  EXPECT_TRUE(SsdPostProcess(raw, 100, 100).ok());
  EXPECT_FALSE(SsdPostProcess(raw, 0, 100).ok());
}

TEST(SsdPostProcess, MapsBoxesOutOfThePaddedSquare) {
  // A 1000x500 image fills the top half of the padded square: reshaped 512x256.
  int rw = 0, rh = 0;
  SsdReshapedDimensions(1000, 500, 512, &rw, &rh);
  EXPECT_EQ(rw, 512);
  EXPECT_EQ(rh, 256);
  SsdRawOutput raw;
  raw.scores = {0.8f};
  raw.boxes = {-0.1f, 0.25f, 0.25f, 1.5f};  // clipped to [0, 1] before mapping
  auto faces = SsdPostProcess(raw, 1000, 500);
  ASSERT_TRUE(faces.ok());
  ASSERT_EQ(faces->size(), 1u);
  const Box& b = (*faces)[0].box;
  EXPECT_DOUBLE_EQ(b.x, 250.0);
  EXPECT_DOUBLE_EQ(b.y, 0.0);
  EXPECT_DOUBLE_EQ(b.width, 750.0);
  EXPECT_DOUBLE_EQ(b.height, 0.25f * 2.0 * 500);
}

TEST(SsdPostProcess, ReproducesReferenceFacesForEveryDecoder) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  double worst_box = 0, worst_score = 0;
  int faces_checked = 0;
  for (int sample = 1; sample <= 3; ++sample) {
    const std::string name = "sample" + std::to_string(sample);
    const nlohmann::json raw_json = ReadJsonFile(reference + "/" + name + "_ssd_raw.json");
    const nlohmann::json ref = ReadJsonFile(reference + "/" + name + ".json");
    ASSERT_FALSE(raw_json.is_null());
    ASSERT_FALSE(ref.is_null());
    const int width = ref["image"]["width"].get<int>();
    const int height = ref["image"]["height"].get<int>();
    for (const auto& [decoder, by_decoder] : raw_json["by_decoder"].items()) {
      SCOPED_TRACE(name + " " + decoder);
      SsdRawOutput raw;
      raw.scores = FloatsOf(by_decoder["scores"]);
      raw.boxes = FloatsOf(by_decoder["boxes_ymin_xmin_ymax_xmax"]);
      ASSERT_EQ(raw.scores.size(), static_cast<size_t>(kSsdNumAnchors));
      int rw = 0, rh = 0;
      SsdReshapedDimensions(width, height, kSsdInputSize, &rw, &rh);
      EXPECT_EQ(rw, by_decoder["reshaped_dims"]["width"].get<int>());
      EXPECT_EQ(rh, by_decoder["reshaped_dims"]["height"].get<int>());

      auto detections = SsdPostProcess(raw, width, height, 0.5, 100);
      ASSERT_TRUE(detections.ok()) << detections.status().ToString();
      const auto& expected = ref["results_by_decoder"][decoder];
      ASSERT_EQ(expected["decoded_rgb_sha256"], by_decoder["decoded_rgb_sha256"]);
      ASSERT_EQ(detections->size(), expected["faces"].size());
      for (size_t i = 0; i < detections->size(); ++i) {
        const Detection& d = (*detections)[i];
        const auto& f = expected["faces"][i];
        const double diffs[4] = {d.box.x - f["box"]["x"].get<double>(),
                                 d.box.y - f["box"]["y"].get<double>(),
                                 d.box.width - f["box"]["width"].get<double>(),
                                 d.box.height - f["box"]["height"].get<double>()};
        for (double diff : diffs) worst_box = std::max(worst_box, std::abs(diff));
        worst_score = std::max(worst_score, std::abs(d.score - f["score"].get<double>()));
        EXPECT_NEAR(d.relative_box.x, f["relative_box"]["x"].get<double>(), 1e-12);
        EXPECT_NEAR(d.relative_box.y, f["relative_box"]["y"].get<double>(), 1e-12);
        ++faces_checked;
      }
    }
  }
  std::printf("post-processing: %d faces, max |box diff| %.3g px, max |score diff| %.3g\n",
              faces_checked, worst_box, worst_score);
  EXPECT_GT(faces_checked, 0);
  EXPECT_LE(worst_box, 1e-6);
  EXPECT_EQ(worst_score, 0.0);
}

}  // namespace
}  // namespace farm::faceid
