// The manifest of a prepared training dataset (manifest.json next to images/NNN.png) and
// the dataset's content address. The address is the SHA-256 of the canonical key:
// prepare version, face detector version, settings, instance token and the sorted
// SHA-256s of the input photos. It is known before any photo is analysed, so the same
// photos and settings are prepared once; file names and outputs are not part of it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "farm/agent/face_crop.h"
#include "farm/schemas/status.h"

namespace farm::agent {

// Bumped whenever preparation would produce different pixels or captions for the same
// inputs (crop rule, resize filter, PNG encoding), so old datasets are not reused.
inline constexpr char kPrepareVersion[] = "studiofarm-prepare/1";
inline constexpr int kManifestFormatVersion = 1;
inline constexpr char kManifestFileName[] = "manifest.json";

struct PrepareSettings {
  // Side of the square crop over the longer side of the face box. 3.0 follows EasyPhoto,
  // whose training crop grows the face box 3x: head, hair and shoulders stay in frame.
  double crop_ratio = 3.0;
  // Side of the training images in pixels (SD 1.5 trains at 512); a multiple of 8.
  int resolution = 512;
  // Caption of every image; "{token}" is replaced by the instance token. A template
  // without it is a fixed caption (EasyPhoto's style).
  std::string caption_template = "a photo of {token}";
  // A photo with several faces: false leaves it out, true keeps its largest face box.
  bool pick_largest = false;
  // Detector score threshold (strictly greater), as `farm-agent faces detect`.
  double min_confidence = 0.5;
};

struct PreparedImage {
  std::string file;           // "images/000.png", relative to the dataset folder
  std::string source_name;    // the photo's file name without its folder
  std::string source_sha256;  // of the photo file's bytes
  int source_width = 0;       // the analysed photo (after EXIF orientation)
  int source_height = 0;
  bool exif_rotated = false;
  int faces_found = 0;        // > 1 only with pick_largest
  double face_score = 0;
  FaceBox face_box;           // pixels of the analysed photo
  PixelRect crop_box;         // square, inside the analysed photo
  std::string caption;
  std::string sha256;         // of the PNG file's bytes
};

struct SkippedPhoto {
  std::string source_name;
  std::string source_sha256;
  std::string reason;
};

struct DatasetManifest {
  std::string dataset_id;  // DatasetId of the fields below
  std::string prepare_version = kPrepareVersion;
  std::string face_detector;  // FaceDetectorVersion of the models used
  std::string instance_token;
  PrepareSettings settings;
  std::vector<std::string> photo_sha256;  // every input photo, sorted
  std::vector<PreparedImage> images;
  std::vector<SkippedPhoto> skipped;
  std::vector<std::string> warnings;
};

// The caption for `token`: every "{token}" in the template replaced.
std::string ExpandCaption(const std::string& caption_template, const std::string& token);

// InvalidArgument naming the setting when one is out of range (ratio 1..10, resolution a
// multiple of 8 in 64..2048, min_confidence in (0, 1), a non-empty caption template).
Status ValidateSettings(const PrepareSettings& settings);

// The canonical key (compact JSON, sorted keys) and its SHA-256: the dataset's id and
// folder name. Uses prepare_version, face_detector, instance_token, settings and
// photo_sha256 of `manifest` (sorted here, so the order photos were given in does not
// matter); the outputs are ignored.
std::string DatasetKeyJson(const DatasetManifest& manifest);
std::string DatasetId(const DatasetManifest& manifest);

// manifest.json's text (pretty-printed, fields in a fixed order) and back. Parsing checks
// the format version and every field's type; DataLoss names `origin` and the field.
std::string ManifestJson(const DatasetManifest& manifest);
StatusOr<DatasetManifest> ParseManifestJson(std::string_view text, const std::string& origin);

}  // namespace farm::agent
