// The crops and coordinate mappings between the nets (README steps 2, 4, 5, 6), fed
// with the reference's own intermediate values: every face of sample1-3 under every
// decoder must give exactly the reference's integer crops and (to 1e-9 px) landmarks.
#include "farm/faceid/face_geometry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "faceid_paths.h"
#include "reference_json.h"

namespace farm::faceid {
namespace {

IntRect RectOf(const nlohmann::json& j) {
  return IntRect{j["x"].get<int>(), j["y"].get<int>(), j["width"].get<int>(),
                 j["height"].get<int>()};
}

std::vector<Point2> PointsOf(const nlohmann::json& j) {
  std::vector<Point2> out;
  for (const auto& p : j) out.push_back({p[0].get<double>(), p[1].get<double>()});
  return out;
}

std::string Str(const IntRect& r) {
  return "{" + std::to_string(r.x) + ", " + std::to_string(r.y) + ", " + std::to_string(r.width) +
         ", " + std::to_string(r.height) + "}";
}

TEST(FaceGeometry, ClipAndFloorClipsToTheImage) {
  EXPECT_EQ(ClipAndFloor(Box{10.7, 20.2, 30.9, 40.99}, 100, 100), (IntRect{10, 20, 30, 40}));
  // Left/top outside: the origin moves in and the size shrinks by the same amount.
  EXPECT_EQ(ClipAndFloor(Box{-5.5, -2.0, 20.0, 10.0}, 100, 100), (IntRect{0, 0, 14, 8}));
  // Right/bottom outside: the size stops at the border.
  EXPECT_EQ(ClipAndFloor(Box{90.5, 95.0, 20.0, 10.0}, 100, 100), (IntRect{90, 95, 9, 5}));
  // Entirely outside: an empty (non-positive) extent, never a crash.
  const IntRect outside = ClipAndFloor(Box{150, 150, 10, 10}, 100, 100);
  EXPECT_LE(outside.width, 0);
  const IntRect nan =
      ClipAndFloor(Box{std::numeric_limits<double>::quiet_NaN(), 0, 10, 10}, 100, 100);
  EXPECT_EQ(nan, (IntRect{0, 0, 0, 10}));  // NaN extents become 0, no UB
}

TEST(FaceGeometry, DlibAlignRectNeeds68Points) {
  std::vector<Point2> few(10, Point2{1, 1});
  EXPECT_EQ(DlibAlignRect(few, IntRect{0, 0, 10, 10}), IntRect{});
}

TEST(FaceGeometry, ReproducesReferenceCropsForEveryDecoder) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  double worst_landmark = 0, worst_margin = 0;
  int faces = 0;
  for (int sample = 1; sample <= 3; ++sample) {
    const std::string name = "sample" + std::to_string(sample);
    const nlohmann::json ref = testing::ReadJsonFile(reference + "/" + name + ".json");
    ASSERT_FALSE(ref.is_null());
    const int width = ref["image"]["width"].get<int>();
    const int height = ref["image"]["height"].get<int>();
    for (const auto& [decoder, result] : ref["results_by_decoder"].items()) {
      for (const auto& f : result["faces"]) {
        SCOPED_TRACE(name + " " + decoder + " face " + std::to_string(f["index"].get<int>()));
        const Box box{f["box"]["x"].get<double>(), f["box"]["y"].get<double>(),
                      f["box"]["width"].get<double>(), f["box"]["height"].get<double>()};
        // Step 2.
        const IntRect crop = LandmarkCrop(box, width, height);
        EXPECT_EQ(crop, RectOf(f["landmark_crop"])) << Str(crop);
        // Step 4.
        const std::vector<Point2> rel = PointsOf(f["landmarks_relative_to_crop"]);
        const std::vector<Point2> expected = PointsOf(f["landmarks"]);
        const std::vector<Point2> landmarks = LandmarksToImage(rel, crop, box);
        ASSERT_EQ(landmarks.size(), 68u);
        for (size_t i = 0; i < 68; ++i) {
          for (int c = 0; c < 2; ++c) {
            worst_landmark = std::max(worst_landmark, std::abs(landmarks[i][c] - expected[i][c]));
          }
        }
        // Step 5, with its floor margins.
        const DlibAlignDetail align = DlibAlignRectDetail(landmarks, crop);
        EXPECT_EQ(align.rect, RectOf(f["descriptor_align_rect"])) << Str(align.rect);
        const auto& margins = f["floor_margin_px"];
        worst_margin = std::max({worst_margin,
                                 std::abs(align.size_margin - margins["align_size"].get<double>()),
                                 std::abs(align.x_margin - margins["align_x"].get<double>()),
                                 std::abs(align.y_margin - margins["align_y"].get<double>())});
        // Step 6.
        const IntRect& r = align.rect;
        EXPECT_EQ(ClipAndFloor(Box{double(r.x), double(r.y), double(r.width), double(r.height)},
                               width, height),
                  RectOf(f["descriptor_crop"]));
        ++faces;
      }
    }
  }
  std::printf("geometry: %d faces, max |landmark diff| %.3g px, max |floor margin diff| %.3g px\n",
              faces, worst_landmark, worst_margin);
  EXPECT_GT(faces, 0);
  EXPECT_LE(worst_landmark, 1e-9);
  EXPECT_LE(worst_margin, 1e-9);
}

}  // namespace
}  // namespace farm::faceid
