// Training-data preparation on real faces: photos cut from the face-api demo photos
// (every demo photo shows several people), a plain image without a face, the crops,
// the manifest, the content address, and the VAE latent cache of the tiny model.
// Skips without the face-api models and demo photos ($STUDIOFARM_MODELS/face-api); under
// CI=true such a skip fails the run (farm/testing/skip.h).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <vector>

#include "faceid_paths.h"
#include "farm/agent/prepare_dataset.h"
#include "farm/agent/prepare_latents.h"
#include "farm/faceid/image_decode.h"
#include "farm/faceid/pipeline.h"
#include "farm/image/png_io.h"
#include "farm/schemas/sha256.h"
#include "farm/sd/checkpoint.h"
#include "farm/sd/model_hints.h"
#include "farm/sd/safetensors.h"
#include "farm/sd/tiny_model.h"
#include "farm/sd/vae.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;

class PrepareDatasetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto models = faceid::testing::FindFaceModelDir();
    auto demo = faceid::testing::FindFaceDemoDir();
    if (!models || !demo || !fs::exists(*demo + "/sample1.jpg") || !fs::exists(*demo + "/sample2.jpg")) return;
    auto pipeline = faceid::FacePipeline::Load(*models);
    ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
    pipeline_ = std::make_unique<faceid::FacePipeline>(std::move(*pipeline));
    auto version = FaceDetectorVersion(*models);
    ASSERT_TRUE(version.ok()) << version.status().ToString();
    detector_ = *version;
    demo_ = *demo;
    std::string pattern = ::testing::TempDir() + "prepare_photos_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    photos_ = pattern;
    // One person: sample1's face 0 (box about x 414, y 355, 178x240; face 1 starts at
    // x 838). "wide" leaves room for a 3x crop; "tight" does not (clamped crop).
    const cv::Mat photo = cv::imread(demo_ + "/sample1.jpg", cv::IMREAD_COLOR);
    ASSERT_FALSE(photo.empty());
    ASSERT_TRUE(cv::imwrite(photos_ + "/wide.png", photo(cv::Rect(0, 0, 830, 1280))));
    ASSERT_TRUE(cv::imwrite(photos_ + "/tight.png", photo(cv::Rect(300, 230, 400, 490))));
    ASSERT_TRUE(cv::imwrite(photos_ + "/plain.png", cv::Mat(96, 96, CV_8UC3, cv::Scalar(128, 128, 128))));
    // "wide" stored lying on its side, with the EXIF orientation that stands it up again.
    cv::Mat sideways;
    cv::rotate(photo(cv::Rect(0, 0, 830, 1280)), sideways, cv::ROTATE_90_COUNTERCLOCKWISE);
    std::vector<uchar> jpeg;
    ASSERT_TRUE(cv::imencode(".jpg", sideways, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95}));
    std::ofstream(photos_ + "/sideways.jpg", std::ios::binary) << WithExifOrientation(jpeg, 6);
  }
  // A JPEG with an APP1 EXIF segment (big-endian TIFF, IFD0 holding only Orientation)
  // right after its SOI marker.
  static std::string WithExifOrientation(const std::vector<uchar>& jpeg, int orientation) {
    const std::string tiff = std::string("MM\0\x2a\0\0\0\x08", 8) +  // header, IFD0 at 8
                             std::string("\0\x01", 2) +                   // one entry
                             std::string("\x01\x12\0\x03\0\0\0\x01", 8) +  // Orientation, SHORT, 1
                             std::string(1, '\0') + std::string(1, static_cast<char>(orientation)) +
                             std::string(2, '\0') + std::string(4, '\0');  // value, no next IFD
    const std::string payload = std::string("Exif\0\0", 6) + tiff;
    const size_t length = payload.size() + 2;
    std::string out(reinterpret_cast<const char*>(jpeg.data()), 2);  // SOI
    out += "\xff\xe1";
    out += static_cast<char>(length >> 8);
    out += static_cast<char>(length & 0xff);
    out += payload;
    out.append(reinterpret_cast<const char*>(jpeg.data()) + 2, jpeg.size() - 2);
    return out;
  }
  static void TearDownTestSuite() {
    pipeline_.reset();
    std::error_code ignored;
    if (!photos_.empty()) fs::remove_all(photos_, ignored);
  }
  void SetUp() override {
    if (!pipeline_) GTEST_SKIP() << "face-api models or demo photos not found (set STUDIOFARM_MODELS)";
    std::string pattern = ::testing::TempDir() + "prepare_out_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    out_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!out_.empty()) fs::remove_all(out_, ignored);
  }

  PrepareRequest Request(std::vector<std::string> names, int resolution = 128) const {
    PrepareRequest request;
    for (const std::string& name : names) {
      request.photos.push_back(name.starts_with("sample") ? demo_ + "/" + name : photos_ + "/" + name);
    }
    request.out_root = out_;
    request.settings.resolution = resolution;
    return request;
  }
  StatusOr<PrepareResult> Prepare(const PrepareRequest& request) const {
    return PrepareDataset(*pipeline_, detector_, request);
  }
  // Everything in the output root (temporary folders included).
  std::vector<std::string> OutEntries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(out_)) names.push_back(entry.path().filename().string());
    return names;
  }
  static const PreparedImage* BySource(const DatasetManifest& m, const std::string& name) {
    for (const PreparedImage& image : m.images) {
      if (image.source_name == name) return &image;
    }
    return nullptr;
  }

  static std::unique_ptr<faceid::FacePipeline> pipeline_;
  static std::string detector_, demo_, photos_;
  std::string out_;
};

std::unique_ptr<faceid::FacePipeline> PrepareDatasetTest::pipeline_;
std::string PrepareDatasetTest::detector_, PrepareDatasetTest::demo_, PrepareDatasetTest::photos_;

TEST_F(PrepareDatasetTest, CropsFacesToTheResolutionAndLeavesOutAPhotoWithoutFace) {
  auto result = Prepare(Request({"wide.png", "tight.png", "plain.png"}, 512));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const DatasetManifest& m = result->manifest;
  EXPECT_FALSE(result->reused);
  EXPECT_EQ(result->folder, out_ + "/" + result->dataset_id);
  ASSERT_EQ(m.images.size(), 2u);
  ASSERT_EQ(m.skipped.size(), 1u);
  EXPECT_EQ(m.skipped[0].source_name, "plain.png");
  EXPECT_EQ(m.skipped[0].reason, "no face found");

  for (const PreparedImage& image : m.images) {
    SCOPED_TRACE(image.source_name);
    EXPECT_EQ(image.caption, "a photo of sks person");
    EXPECT_EQ(image.faces_found, 1);
    const PixelRect& c = image.crop_box;
    EXPECT_EQ(c.width, c.height);
    EXPECT_GE(c.x, 0);
    EXPECT_GE(c.y, 0);
    EXPECT_LE(c.x + c.width, image.source_width);
    EXPECT_LE(c.y + c.height, image.source_height);
    // The face is inside the crop.
    EXPECT_LE(c.x, image.face_box.x + 0.5);
    EXPECT_LE(c.y, image.face_box.y + 0.5);
    EXPECT_GE(c.x + c.width, image.face_box.x + image.face_box.width - 0.5);
    EXPECT_GE(c.y + c.height, image.face_box.y + image.face_box.height - 0.5);
    const std::string file = result->folder + "/" + image.file;
    auto png = image::ReadPngFile(file);
    ASSERT_TRUE(png.ok()) << png.status().ToString();
    EXPECT_EQ(png->width, 512);
    EXPECT_EQ(png->height, 512);
    EXPECT_EQ(png->channels, 3);
    EXPECT_EQ(*Sha256File(file), image.sha256);
    EXPECT_EQ(*Sha256File(photos_ + "/" + image.source_name), image.source_sha256);
  }
  // "wide" has room for the full 3x crop; "tight" (400x490) gets its largest square.
  const PreparedImage* wide = BySource(m, "wide.png");
  const PreparedImage* tight = BySource(m, "tight.png");
  ASSERT_TRUE(wide && tight);
  EXPECT_EQ(wide->crop_box.width,
            static_cast<int>(std::lround(3.0 * std::max(wide->face_box.width, wide->face_box.height))));
  EXPECT_EQ(tight->crop_box.width, 400);
  EXPECT_EQ(tight->source_width, 400);
  EXPECT_EQ(tight->source_height, 490);
  // The same face in both (sample1's face 0, offset by the cut): the boxes overlap
  // mostly (the detector sees the face at another scale in each cut).
  const FaceBox a = wide->face_box, b = tight->face_box;
  const double ix = std::min(a.x + a.width, b.x + 300 + b.width) - std::max(a.x, b.x + 300);
  const double iy = std::min(a.y + a.height, b.y + 230 + b.height) - std::max(a.y, b.y + 230);
  const double inter = std::max(0.0, ix) * std::max(0.0, iy);
  EXPECT_GT(inter / (a.width * a.height + b.width * b.height - inter), 0.6);

  bool few = false, clamped = false;
  for (const std::string& warning : m.warnings) {
    few = few || warning.find("only 2 usable photos") != std::string::npos;
    clamped = clamped || warning.find("tight.png: the face is too close") != std::string::npos;
  }
  EXPECT_TRUE(few);
  EXPECT_TRUE(clamped);

  // The manifest on disk is the result's, and checks out.
  auto loaded = LoadPreparedDataset(result->folder, result->dataset_id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(ManifestJson(*loaded), ManifestJson(m));
  EXPECT_EQ(OutEntries(), std::vector<std::string>{result->dataset_id});
}

TEST_F(PrepareDatasetTest, TheExifOrientationIsAppliedBeforeDetection) {
  auto result = Prepare(Request({"sideways.jpg", "wide.png"}));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_TRUE(result->manifest.skipped.empty()) << result->manifest.skipped[0].reason;
  const PreparedImage* upright = BySource(result->manifest, "sideways.jpg");
  const PreparedImage* wide = BySource(result->manifest, "wide.png");
  ASSERT_TRUE(upright && wide);
  EXPECT_TRUE(upright->exif_rotated);
  EXPECT_FALSE(wide->exif_rotated);
  EXPECT_EQ(upright->source_width, 830);
  EXPECT_EQ(upright->source_height, 1280);
  // Stood up, it is the same face at the same place (to JPEG noise).
  EXPECT_NEAR(upright->face_box.x, wide->face_box.x, 8.0);
  EXPECT_NEAR(upright->face_box.y, wide->face_box.y, 8.0);
}

TEST_F(PrepareDatasetTest, APhotoWithSeveralFacesNeedsPickLargest) {
  auto strict = Prepare(Request({"sample2.jpg", "wide.png"}));
  ASSERT_TRUE(strict.ok()) << strict.status().ToString();
  ASSERT_EQ(strict->manifest.images.size(), 1u);
  ASSERT_EQ(strict->manifest.skipped.size(), 1u);
  EXPECT_EQ(strict->manifest.skipped[0].source_name, "sample2.jpg");
  EXPECT_NE(strict->manifest.skipped[0].reason.find("3 faces found"), std::string::npos)
      << strict->manifest.skipped[0].reason;
  EXPECT_NE(strict->manifest.skipped[0].reason.find("--pick largest"), std::string::npos);

  PrepareRequest request = Request({"sample2.jpg", "wide.png"});
  request.settings.pick_largest = true;
  auto picked = Prepare(request);
  ASSERT_TRUE(picked.ok()) << picked.status().ToString();
  EXPECT_NE(picked->dataset_id, strict->dataset_id);
  ASSERT_EQ(picked->manifest.images.size(), 2u);
  EXPECT_TRUE(picked->manifest.skipped.empty());
  const PreparedImage* group = BySource(picked->manifest, "sample2.jpg");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->faces_found, 3);
  // The kept face is the largest box the pipeline finds on the photo.
  auto decoded = faceid::DecodeImageFile(demo_ + "/sample2.jpg");
  ASSERT_TRUE(decoded.ok());
  auto faces = pipeline_->Analyze(decoded->image);
  ASSERT_TRUE(faces.ok());
  double largest = 0;
  for (const faceid::Face& face : *faces) largest = std::max(largest, face.box.width * face.box.height);
  EXPECT_DOUBLE_EQ(group->face_box.width * group->face_box.height, largest);
}

TEST_F(PrepareDatasetTest, TheSamePhotosAndSettingsArePreparedOnce) {
  auto first = Prepare(Request({"wide.png", "tight.png"}));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const auto written = fs::last_write_time(first->folder + "/" + kManifestFileName);
  // Same photos in the other order: the same dataset, found, not rewritten.
  auto again = Prepare(Request({"tight.png", "wide.png"}));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->dataset_id, first->dataset_id);
  EXPECT_EQ(ManifestJson(again->manifest), ManifestJson(first->manifest));
  EXPECT_EQ(fs::last_write_time(first->folder + "/" + kManifestFileName), written);
  // The id is known before any analysis.
  auto key = DatasetKey(Request({"wide.png", "tight.png"}), detector_);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->dataset_id, first->dataset_id);

  // Another ratio is another dataset with other crops.
  PrepareRequest wider = Request({"wide.png", "tight.png"});
  wider.settings.crop_ratio = 2.0;
  auto other = Prepare(wider);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_FALSE(other->reused);
  EXPECT_NE(other->dataset_id, first->dataset_id);
  EXPECT_LT(BySource(other->manifest, "wide.png")->crop_box.width,
            BySource(first->manifest, "wide.png")->crop_box.width);
  // A fresh preparation of the same key gives the same bytes (deterministic pixels).
  fs::remove_all(first->folder);
  auto redone = Prepare(Request({"wide.png", "tight.png"}));
  ASSERT_TRUE(redone.ok()) << redone.status().ToString();
  EXPECT_FALSE(redone->reused);
  EXPECT_EQ(ManifestJson(redone->manifest), ManifestJson(first->manifest));
  // No temporary folders are left behind.
  for (const std::string& name : OutEntries()) EXPECT_FALSE(name.starts_with(".partial-")) << name;
}

TEST_F(PrepareDatasetTest, NoUsablePhotoIsAnErrorAndWritesNothing) {
  auto result = Prepare(Request({"plain.png"}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("plain.png: no face found"), std::string::npos)
      << result.status().message();
  EXPECT_TRUE(OutEntries().empty());
}

TEST_F(PrepareDatasetTest, BadInputIsNamed) {
  auto missing = Prepare(Request({"wide.png", "nowhere.png"}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nowhere.png"), std::string::npos) << missing.status().message();
  PrepareRequest twice = Request({"wide.png"});
  const std::string copy = out_ + "/copy.png";
  fs::copy_file(photos_ + "/wide.png", copy);
  twice.photos.push_back(copy);
  auto duplicate = Prepare(twice);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(duplicate.status().message().find("same file content"), std::string::npos);
  PrepareRequest odd = Request({"wide.png"});
  odd.settings.resolution = 100;
  EXPECT_EQ(Prepare(odd).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PrepareDatasetTest, AModifiedDatasetIsNotReused) {
  auto first = Prepare(Request({"wide.png"}));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(image::WriteFileBytes(first->folder + "/images/000.png", "not the prepared image").ok());
  auto again = Prepare(Request({"wide.png"}));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("images/000.png"), std::string::npos) << again.status().message();
  EXPECT_NE(again.status().message().find("remove"), std::string::npos);
}

TEST_F(PrepareDatasetTest, LatentsAreTheVaeMeanOfEachImageAndItsMirror) {
  const std::string tiny = out_ + "/tiny";
  auto files = sd::MakeTinyModel(tiny, 3);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  const int resolution = 64;
  PrepareRequest request = Request({"wide.png", "tight.png"}, resolution);
  request.out_root = out_ + "/datasets";
  auto prepared = Prepare(request);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();

  LatentCacheRequest cache{prepared->folder, files->checkpoint, /*flip=*/true, /*threads=*/1};
  auto latents = CacheLatents(cache, prepared->manifest);
  ASSERT_TRUE(latents.ok()) << latents.status().ToString();
  const std::string checkpoint_sha = *Sha256File(files->checkpoint);
  EXPECT_EQ(latents->checkpoint_sha256, checkpoint_sha);
  EXPECT_EQ(latents->path, prepared->folder + "/latents-" + checkpoint_sha.substr(0, 16) + ".safetensors");
  EXPECT_FALSE(latents->reused);
  EXPECT_EQ(latents->count, 4);

  // The reference: the tiny checkpoint's VAE, loaded the engine's way.
  auto hints = sd::ReadModelHints(files->checkpoint);
  auto weights = sd::LoadCheckpoint(files->checkpoint);
  ASSERT_TRUE(hints.ok() && weights.ok());
  sd::VaeOptions options;
  options.norm_groups = hints->vae.norm_groups;
  auto vae = sd::Vae::Create(std::move(weights->vae), options);
  ASSERT_TRUE(vae.ok()) << vae.status().ToString();
  const int64_t factor = vae->downscale_factor();
  const std::vector<int64_t> shape = {vae->latent_channels(), resolution / factor, resolution / factor};
  EXPECT_EQ(shape, (std::vector<int64_t>{4, resolution / 8, resolution / 8}));
  EXPECT_EQ(latents->shape, shape);

  auto stored = sd::SafetensorsFile::Open(latents->path);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ((*stored)->metadata().at("latent"), "posterior_mean");
  EXPECT_EQ((*stored)->metadata().at("checkpoint_sha256"), checkpoint_sha);
  EXPECT_EQ((*stored)->metadata().at("dataset_id"), prepared->dataset_id);
  for (const char* index : {"000", "001"}) {
    SCOPED_TRACE(index);
    auto plain = (*stored)->Load(std::string("latent/") + index);
    auto flipped = (*stored)->Load(std::string("latent_flip/") + index);
    ASSERT_TRUE(plain.ok() && flipped.ok());
    EXPECT_EQ(plain->sizes().vec(), shape);
    EXPECT_EQ(flipped->sizes().vec(), shape);
    EXPECT_FALSE(at::allclose(*plain, *flipped)) << "the mirrored image must give another latent";
    // The posterior mean times 0.18215 of the image as stored in the dataset.
    auto png = image::ReadPngFile(prepared->folder + "/images/" + index + ".png");
    ASSERT_TRUE(png.ok());
    at::Tensor x = at::from_blob(png->pixels.data(), {resolution, resolution, 3}, at::kByte)
                       .permute({2, 0, 1})
                       .to(at::kFloat)
                       .div(127.5)
                       .sub(1.0)
                       .unsqueeze(0)
                       .contiguous();
    at::NoGradGuard no_grad;
    auto posterior = vae->Encode(x);
    ASSERT_TRUE(posterior.ok());
    EXPECT_TRUE(at::allclose(*plain, posterior->mean[0] * sd::kVaeScalingFactor, 1e-5, 1e-6));
    auto mirrored = vae->Encode(x.flip({3}).contiguous());
    ASSERT_TRUE(mirrored.ok());
    EXPECT_TRUE(at::allclose(*flipped, mirrored->mean[0] * sd::kVaeScalingFactor, 1e-5, 1e-6));
  }

  // Found the second time; a request without flips is served by the same file.
  auto again = CacheLatents(cache, prepared->manifest);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->reused);
  cache.flip = false;
  auto plain_only = CacheLatents(cache, prepared->manifest);
  ASSERT_TRUE(plain_only.ok());
  EXPECT_TRUE(plain_only->reused);
}

}  // namespace
}  // namespace farm::agent
