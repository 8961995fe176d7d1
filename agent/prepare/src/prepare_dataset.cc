#include "farm/agent/prepare_dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "crop_resize.h"
#include "dataset_folder.h"
#include "farm/faceid/image_decode.h"
#include "farm/faceid/pipeline.h"
#include "farm/image/png_io.h"
#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;

struct Photo {
  std::string path;
  std::string name;  // file name only
  std::string sha256;
};

// One photo's outcome: a training image, or why it was left out.
struct Outcome {
  std::optional<PreparedImage> image;
  std::string png;  // the encoded image
  std::string skip_reason;
  std::vector<std::string> warnings;
};

// The face to crop: the only one, or the largest box with pick_largest (the first on
// ties, as `farmctl identity add --pick largest`); -1 with the reason otherwise.
int ChooseFace(const std::vector<faceid::Face>& faces, bool pick_largest, std::string* reason) {
  if (faces.empty()) {
    *reason = "no face found";
    return -1;
  }
  if (faces.size() > 1 && !pick_largest) {
    *reason = std::to_string(faces.size()) +
              " faces found (a training photo must show only the person; pass --pick largest to "
              "keep the largest face)";
    return -1;
  }
  int best = 0;
  for (size_t i = 1; i < faces.size(); ++i) {
    if (faces[i].box.width * faces[i].box.height > faces[best].box.width * faces[best].box.height) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

std::string ImageFileName(size_t index) {
  char name[32];
  std::snprintf(name, sizeof(name), "images/%03zu.png", index);
  return name;
}

Outcome PreparePhoto(const faceid::FacePipeline& faces, const Photo& photo, const PrepareSettings& settings,
                     const std::string& caption) {
  Outcome out;
  StatusOr<faceid::DecodedImage> decoded = faceid::DecodeImageFile(photo.path);
  if (!decoded.ok()) {
    out.skip_reason = "cannot be decoded: " + decoded.status().message();
    return out;
  }
  faceid::AnalyzeOptions analyze;
  analyze.min_confidence = settings.min_confidence;
  StatusOr<std::vector<faceid::Face>> found = faces.Analyze(decoded->image, analyze);
  if (!found.ok()) {
    out.skip_reason = "face analysis failed: " + found.status().message();
    return out;
  }
  const int chosen = ChooseFace(*found, settings.pick_largest, &out.skip_reason);
  if (chosen < 0) return out;
  const faceid::Face& face = (*found)[chosen];
  const FaceBox box{face.box.x, face.box.y, face.box.width, face.box.height};
  const int width = decoded->image.width, height = decoded->image.height;
  StatusOr<PixelRect> crop = SquareCropAroundFace(box, width, height, settings.crop_ratio);
  if (!crop.ok()) {
    out.skip_reason = "no crop: " + crop.status().message();
    return out;
  }
  StatusOr<image::Image> pixels = internal::CropToTrainingImage(decoded->image, *crop, settings.resolution);
  if (!pixels.ok()) {
    out.skip_reason = pixels.status().message();
    return out;
  }
  StatusOr<std::string> png = image::EncodePng(*pixels);
  if (!png.ok()) {
    out.skip_reason = "PNG encoding failed: " + png.status().message();
    return out;
  }
  const long wanted = std::lround(settings.crop_ratio * std::max(box.width, box.height));
  if (crop->width < wanted) {
    out.warnings.push_back(photo.name + ": the face is too close to the photo's edges for a " +
                           std::to_string(wanted) + " px crop; used the largest square that fits (" +
                           std::to_string(crop->width) + " px)");
  }
  if (crop->width * 2 < settings.resolution) {
    out.warnings.push_back(photo.name + ": the crop is only " + std::to_string(crop->width) +
                           " px, enlarged to " + std::to_string(settings.resolution) +
                           " px (a closer or larger photo would train better)");
  }
  PreparedImage image;
  image.source_name = photo.name;
  image.source_sha256 = photo.sha256;
  image.source_width = width;
  image.source_height = height;
  image.exif_rotated = decoded->exif_rotated;
  image.faces_found = static_cast<int>(found->size());
  image.face_score = face.score;
  image.face_box = box;
  image.crop_box = *crop;
  image.caption = caption;
  image.sha256 = Sha256Hex(*png);
  out.png = std::move(*png);
  out.image = std::move(image);
  return out;
}

// The photos with their hashes, in the order of their hashes: the dataset's content
// (image numbers included) then depends only on its key, not on the order given.
StatusOr<std::vector<Photo>> HashPhotos(const std::vector<std::string>& paths) {
  if (paths.empty()) return InvalidArgument("no photos given");
  std::vector<Photo> photos;
  std::map<std::string, std::string> seen;  // sha256 -> path
  for (const std::string& path : paths) {
    StatusOr<std::string> digest = Sha256File(path);
    if (!digest.ok()) return digest.status().WithContext("photo");
    if (auto [it, fresh] = seen.emplace(*digest, path); !fresh) {
      return InvalidArgument("photos " + it->second + " and " + path + " are the same file content (same SHA-256)");
    }
    photos.push_back({path, fs::path(path).filename().string(), *digest});
  }
  std::sort(photos.begin(), photos.end(), [](const Photo& a, const Photo& b) { return a.sha256 < b.sha256; });
  return photos;
}

DatasetManifest KeyOf(const PrepareRequest& request, const std::string& face_detector,
                      const std::vector<Photo>& photos) {
  DatasetManifest m;
  m.face_detector = face_detector;
  m.instance_token = request.instance_token;
  m.settings = request.settings;
  for (const Photo& photo : photos) m.photo_sha256.push_back(photo.sha256);
  m.dataset_id = DatasetId(m);
  return m;
}

}  // namespace

StatusOr<DatasetManifest> DatasetKey(const PrepareRequest& request, const std::string& face_detector) {
  FARM_RETURN_IF_ERROR(ValidateSettings(request.settings));
  FARM_ASSIGN_OR_RETURN(std::vector<Photo> photos, HashPhotos(request.photos));
  return KeyOf(request, face_detector, photos);
}

StatusOr<PrepareResult> PrepareDataset(const faceid::FacePipeline& faces, const std::string& face_detector,
                                       const PrepareRequest& request, const PrepareProgress& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  FARM_RETURN_IF_ERROR(ValidateSettings(request.settings));
  if (request.out_root.empty()) return InvalidArgument("no output folder for the dataset (--out)");
  if (request.instance_token.empty()) return InvalidArgument("the instance token is empty");
  FARM_ASSIGN_OR_RETURN(std::vector<Photo> photos, HashPhotos(request.photos));

  PrepareResult result;
  result.manifest = KeyOf(request, face_detector, photos);
  result.dataset_id = result.manifest.dataset_id;
  result.folder = (fs::path(request.out_root) / result.dataset_id).string();
  std::error_code ec;
  if (fs::exists(result.folder, ec)) {
    StatusOr<DatasetManifest> existing = LoadPreparedDataset(result.folder, result.dataset_id);
    if (!existing.ok()) {
      return existing.status().WithContext("an incomplete or damaged dataset is in the way (remove " +
                                           result.folder + " to prepare it again)");
    }
    say("dataset " + result.dataset_id.substr(0, 16) + " is already prepared: " + result.folder);
    result.manifest = std::move(*existing);
    result.reused = true;
    return result;
  }

  FARM_ASSIGN_OR_RETURN(std::string temporary,
                        internal::MakeTemporaryDatasetFolder(request.out_root, result.dataset_id));
  // Removes the temporary folder on every early return.
  struct Cleanup {
    std::string folder;
    ~Cleanup() {
      if (!folder.empty()) internal::RemoveFolderQuietly(folder);
    }
  } cleanup{temporary};
  fs::create_directories(fs::path(temporary) / "images", ec);
  if (ec) return Unavailable(temporary + "/images: cannot create: " + ec.message());

  const std::string caption = ExpandCaption(request.settings.caption_template, request.instance_token);
  DatasetManifest& manifest = result.manifest;
  for (size_t i = 0; i < photos.size(); ++i) {
    const Photo& photo = photos[i];
    Outcome outcome = PreparePhoto(faces, photo, request.settings, caption);
    const std::string step = "[" + std::to_string(i + 1) + "/" + std::to_string(photos.size()) + "] " + photo.path;
    manifest.warnings.insert(manifest.warnings.end(), outcome.warnings.begin(), outcome.warnings.end());
    if (!outcome.image) {
      say(step + ": left out: " + outcome.skip_reason);
      manifest.skipped.push_back({photo.name, photo.sha256, outcome.skip_reason});
      continue;
    }
    outcome.image->file = ImageFileName(manifest.images.size());
    FARM_RETURN_IF_ERROR(image::WriteFileBytes((fs::path(temporary) / outcome.image->file).string(), outcome.png));
    say(step + ": " + std::to_string(outcome.image->faces_found) + " face(s), crop " +
        std::to_string(outcome.image->crop_box.width) + " px -> " + outcome.image->file);
    manifest.images.push_back(std::move(*outcome.image));
  }
  if (manifest.images.empty()) {
    std::string message = "no usable photo among " + std::to_string(photos.size()) + ":";
    for (const SkippedPhoto& skipped : manifest.skipped) message += "\n  " + skipped.source_name + ": " + skipped.reason;
    return FailedPrecondition(message);
  }
  if (manifest.images.size() < static_cast<size_t>(kRecommendedPhotos)) {
    manifest.warnings.push_back("only " + std::to_string(manifest.images.size()) + " usable photo" +
                                (manifest.images.size() == 1 ? "" : "s") + "; " +
                                std::to_string(kRecommendedPhotos) +
                                " or more (about 10) give a LoRA that generalises");
  }
  FARM_RETURN_IF_ERROR(
      image::WriteFileBytes((fs::path(temporary) / kManifestFileName).string(), ManifestJson(manifest)));
  FARM_ASSIGN_OR_RETURN(bool published, internal::PublishDatasetFolder(temporary, result.folder));
  cleanup.folder.clear();
  if (!published) {
    // Another process prepared the same dataset meanwhile: use its folder.
    FARM_ASSIGN_OR_RETURN(result.manifest, LoadPreparedDataset(result.folder, result.dataset_id));
    result.reused = true;
  }
  say("dataset " + result.dataset_id.substr(0, 16) + ": " + std::to_string(result.manifest.images.size()) +
      " images in " + result.folder);
  return result;
}

}  // namespace farm::agent
