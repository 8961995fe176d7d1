// The whole face pipeline against face-api.js: sample1-3 decoded with libjpeg-turbo
// (pixel hash checked) must give the reference's libjpeg-turbo faces: same count, faces
// matched by box IoU >= 0.9, integer crops equal, box and landmarks within 0.01 px, score
// within 1e-5, descriptor within 1e-5 (or 1e-4 Euclidean). Faces with a floor margin
// under 1e-3 px get the README's cross-decoder tolerances instead.
#include "farm/faceid/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "faceid_paths.h"
#include "farm/faceid/image_decode.h"
#include "farm/schemas/sha256.h"
#include "reference_json.h"

namespace farm::faceid {
namespace {

std::string PixelHash(const RgbImage& image) {
  return Sha256Hex(
      std::string_view(reinterpret_cast<const char*>(image.rgb.data()), image.rgb.size()));
}

IntRect RectOf(const nlohmann::json& j) {
  return IntRect{j["x"].get<int>(), j["y"].get<int>(), j["width"].get<int>(),
                 j["height"].get<int>()};
}

double Iou(const Box& a, const nlohmann::json& b) {
  const double bx = b["x"].get<double>(), by = b["y"].get<double>();
  const double bw = b["width"].get<double>(), bh = b["height"].get<double>();
  const double ix = std::max(0.0, std::min(a.x + a.width, bx + bw) - std::max(a.x, bx));
  const double iy = std::max(0.0, std::min(a.y + a.height, by + bh) - std::max(a.y, by));
  const double inter = ix * iy;
  return inter / (a.width * a.height + bw * bh - inter);
}

struct Errors {
  double score = 0, box = 0, landmarks = 0, descriptor_abs = 0, descriptor_euclid = 0;
  void Max(const Errors& o) {
    score = std::max(score, o.score);
    box = std::max(box, o.box);
    landmarks = std::max(landmarks, o.landmarks);
    descriptor_abs = std::max(descriptor_abs, o.descriptor_abs);
    descriptor_euclid = std::max(descriptor_euclid, o.descriptor_euclid);
  }
};

Errors Compare(const Face& face, const nlohmann::json& ref) {
  Errors e;
  e.score = std::abs(face.score - ref["score"].get<double>());
  const auto& b = ref["box"];
  e.box = std::max({std::abs(face.box.x - b["x"].get<double>()),
                    std::abs(face.box.y - b["y"].get<double>()),
                    std::abs(face.box.width - b["width"].get<double>()),
                    std::abs(face.box.height - b["height"].get<double>())});
  for (size_t i = 0; i < 68 && i < face.landmarks.size(); ++i) {
    for (int c = 0; c < 2; ++c) {
      e.landmarks = std::max(e.landmarks,
                             std::abs(face.landmarks[i][c] - ref["landmarks"][i][c].get<double>()));
    }
  }
  double sum = 0;
  for (size_t k = 0; k < 128; ++k) {
    const double d = double(face.descriptor[k]) - ref["descriptor"][k].get<double>();
    if (!(std::abs(d) <= e.descriptor_abs)) e.descriptor_abs = std::abs(d);
    sum += d * d;
  }
  e.descriptor_euclid = std::sqrt(sum);
  return e;
}

double MinFloorMargin(const nlohmann::json& ref) {
  double m = 1e9;
  for (const auto& [key, value] : ref["floor_margin_px"].items())
    m = std::min(m, value.get<double>());
  return m;
}

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto models = testing::FindFaceModelDir();
    if (!models) return;
    auto pipeline = FacePipeline::Load(*models);
    ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
    pipeline_ = std::make_unique<FacePipeline>(std::move(pipeline).value());
  }
  static void TearDownTestSuite() { pipeline_.reset(); }
  void SetUp() override {
    if (!pipeline_) GTEST_SKIP() << "face-api models not found (set STUDIOFARM_MODELS)";
  }
  static std::unique_ptr<FacePipeline> pipeline_;
};
std::unique_ptr<FacePipeline> PipelineTest::pipeline_;

TEST_F(PipelineTest, MatchesFaceApiOnLibjpegTurboPixels) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  FARM_FACEID_REQUIRE_DEMO(demo);
  Errors tight_worst, loose_worst;
  int tight_faces = 0, loose_faces = 0;
  for (int sample = 1; sample <= 3; ++sample) {
    const std::string name = "sample" + std::to_string(sample);
    SCOPED_TRACE(name);
    auto decoded = DecodeImageFile(demo + "/" + name + ".jpg");
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    const nlohmann::json ref = testing::ReadJsonFile(reference + "/" + name + ".json");
    const auto& expected = ref["results_by_decoder"]["libjpeg-turbo"];
    if (PixelHash(decoded->image) != expected["decoded_rgb_sha256"].get<std::string>()) {
      GTEST_SKIP() << name << ".jpg does not decode to the reference's libjpeg-turbo pixels here";
    }
    auto faces = pipeline_->Analyze(decoded->image);
    ASSERT_TRUE(faces.ok()) << faces.status().ToString();
    ASSERT_EQ(faces->size(), expected["faces"].size());
    for (const auto& ref_face : expected["faces"]) {
      SCOPED_TRACE("reference face " + std::to_string(ref_face["index"].get<int>()));
      const Face* match = nullptr;
      double best = 0;
      for (const Face& f : *faces) {
        const double iou = Iou(f.box, ref_face["box"]);
        if (iou > best) best = iou, match = &f;
      }
      ASSERT_NE(match, nullptr);
      ASSERT_GE(best, 0.9);
      ASSERT_EQ(match->landmarks.size(), 68u);
      const Errors e = Compare(*match, ref_face);
      if (MinFloorMargin(ref_face) >= 1e-3) {
        EXPECT_EQ(match->landmark_crop, RectOf(ref_face["landmark_crop"]));
        EXPECT_EQ(match->descriptor_align_rect, RectOf(ref_face["descriptor_align_rect"]));
        EXPECT_EQ(match->descriptor_crop, RectOf(ref_face["descriptor_crop"]));
        EXPECT_LE(e.score, 1e-5);
        EXPECT_LE(e.box, 0.01);
        EXPECT_LE(e.landmarks, 0.01);
        EXPECT_TRUE(e.descriptor_abs <= 1e-5 || e.descriptor_euclid <= 1e-4)
            << "descriptor max abs " << e.descriptor_abs << ", Euclidean " << e.descriptor_euclid;
        tight_worst.Max(e);
        ++tight_faces;
      } else {
        EXPECT_LE(e.score, 0.02);
        EXPECT_LE(e.box, 3.0);
        EXPECT_LE(e.landmarks, 12.0);
        EXPECT_LE(e.descriptor_euclid, 0.15);
        loose_worst.Max(e);
        ++loose_faces;
      }
    }
  }
  std::printf(
      "pipeline, %d faces at tight tolerance: max |score| %.3g, |box| %.3g px, "
      "|landmark| %.3g px, |descriptor| %.3g (Euclidean %.3g)\n",
      tight_faces, tight_worst.score, tight_worst.box, tight_worst.landmarks,
      tight_worst.descriptor_abs, tight_worst.descriptor_euclid);
  if (loose_faces > 0) {
    std::printf(
        "pipeline, %d faces near a floor boundary (loose tolerance): max |score| %.3g, "
        "|box| %.3g px, |landmark| %.3g px, descriptor Euclidean %.3g\n",
        loose_faces, loose_worst.score, loose_worst.box, loose_worst.landmarks,
        loose_worst.descriptor_euclid);
  }
  EXPECT_GT(tight_faces, 0);
}

TEST_F(PipelineTest, DescriptorModelVersionNamesTheWeights) {
  FARM_FACEID_REQUIRE_REFERENCE(reference);
  const nlohmann::json ref = testing::ReadJsonFile(reference + "/sample1.json");
  const std::string sha =
      ref["generator"]["model_files_sha256"]["face_recognition_model.bin"].get<std::string>();
  EXPECT_EQ(pipeline_->DescriptorModelVersion(),
            "face-api-1.7.15/face_recognition_model@" + sha.substr(0, 12));
  auto direct = DescriptorModelVersion(*testing::FindFaceModelDir());
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_EQ(*direct, pipeline_->DescriptorModelVersion());
  EXPECT_FALSE(DescriptorModelVersion("/nonexistent").ok());
}

// A stand-in for a future similarity-transform aligner: a fixed square from the image.
class FixedSquareAligner : public FaceAligner {
 public:
  std::string Name() const override { return "fixed-square-test"; }
  StatusOr<AlignedFace> Align(const RgbImage& image, std::span<const Point2>,
                              const IntRect&) const override {
    AlignedFace out;
    out.align_rect = IntRect{0, 0, 40, 40};
    out.crop = out.align_rect;
    out.chip = Crop(image, 0, 0, 40, 40);
    ++calls;
    return out;
  }
  mutable int calls = 0;
};

TEST_F(PipelineTest, AlignerCanBeSwappedAndEmptyImagesHaveNoFaces) {
  FARM_FACEID_REQUIRE_DEMO(demo);
  DecodeOptions small;
  small.max_side = 480;  // keeps this test fast; the faces are still found
  auto decoded = DecodeImageFile(demo + "/sample1.jpg", small);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_TRUE(decoded->downscaled);

  FacePipeline pipeline = *pipeline_;
  auto aligner = std::make_shared<FixedSquareAligner>();
  pipeline.SetAligner(aligner);
  EXPECT_EQ(pipeline.DescriptorModelVersion(),
            pipeline_->DescriptorModelVersion() + "/fixed-square-test");
  auto faces = pipeline.Analyze(decoded->image);
  ASSERT_TRUE(faces.ok()) << faces.status().ToString();
  ASSERT_FALSE(faces->empty());
  EXPECT_EQ(aligner->calls, static_cast<int>(faces->size()));
  // Every face got the same chip, hence the same descriptor.
  for (const Face& f : *faces) {
    EXPECT_EQ(f.descriptor_crop, (IntRect{0, 0, 40, 40}));
    EXPECT_EQ(f.descriptor, (*faces)[0].descriptor);
  }
  pipeline.SetAligner(nullptr);
  EXPECT_EQ(pipeline.DescriptorModelVersion(), pipeline_->DescriptorModelVersion());

  auto none = pipeline_->Analyze(RgbImage{});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  RgbImage broken;
  broken.width = 10;
  broken.height = 10;
  broken.rgb.resize(7);
  EXPECT_FALSE(pipeline_->Analyze(broken).ok());
  RgbImage flat;
  flat.width = 64;
  flat.height = 48;
  flat.rgb.assign(64 * 48 * 3, 90);
  auto flat_faces = pipeline_->Analyze(flat);
  ASSERT_TRUE(flat_faces.ok());
  EXPECT_TRUE(flat_faces->empty());
}

}  // namespace
}  // namespace farm::faceid
