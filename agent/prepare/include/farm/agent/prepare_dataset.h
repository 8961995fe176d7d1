// Training-data preparation for a face LoRA: an identity's photos -> a prepared-dataset
// folder <out_root>/<dataset id>/ holding images/NNN.png (square face crops at the
// training resolution) and manifest.json (prepare_manifest.h).
//
// Per photo: decode (EXIF orientation applied), find faces with the face-api pipeline
// (as `farm-agent faces detect`), keep the only face or, with pick_largest, the largest
// box; cut SquareCropAroundFace and resize it to the resolution (INTER_AREA when
// shrinking, Lanczos when enlarging). Photos that cannot be decoded, show no face or
// several faces (without pick_largest) are left out and listed with the reason.
//
// The folder is written under a temporary name in out_root and renamed when complete, so
// a crash never leaves a half dataset under the final name; an existing complete folder
// for the same id is checked (every image's SHA-256) and returned without work.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "farm/agent/prepare_manifest.h"
#include "farm/schemas/status.h"

namespace farm::faceid {
class FacePipeline;
}

namespace farm::agent {

struct PrepareRequest {
  std::string instance_token = "sks person";
  std::vector<std::string> photos;  // paths; the same file content twice is an error
  std::string out_root;             // datasets live in out_root/<dataset id>
  PrepareSettings settings;
};

struct PrepareResult {
  std::string dataset_id;
  std::string folder;    // out_root/<dataset id>
  bool reused = false;   // the folder existed and was not rewritten
  DatasetManifest manifest;
};

// Called with one human-readable line per step (for stderr).
using PrepareProgress = std::function<void(const std::string& line)>;

// The id a dataset of these photos and settings gets, without analysing them (hashes the
// photo files). NotFound names a missing photo; InvalidArgument a photo given twice.
StatusOr<DatasetManifest> DatasetKey(const PrepareRequest& request, const std::string& face_detector);

// Prepares (or finds) the dataset. `face_detector` is FaceDetectorVersion of the models
// `faces` was loaded from. FailedPrecondition when no photo is usable (each one's reason
// in the message); fewer than kRecommendedPhotos usable photos is a warning in the
// manifest. The pipeline is only read (safe to share between calls on one thread).
StatusOr<PrepareResult> PrepareDataset(const faceid::FacePipeline& faces, const std::string& face_detector,
                                       const PrepareRequest& request, const PrepareProgress& progress = {});

// Reads <folder>/manifest.json and checks that it names `expected_id` (when not empty)
// and that every image file exists with its recorded SHA-256. DataLoss names what is off.
StatusOr<DatasetManifest> LoadPreparedDataset(const std::string& folder, const std::string& expected_id = "");

// "ssd_mobilenetv1@" + the first 12 hex digits of the SHA-256 over the detector's weight
// shards (manifest order) in model_dir: part of the dataset id, since other weights find
// other boxes.
StatusOr<std::string> FaceDetectorVersion(const std::string& model_dir);

inline constexpr int kRecommendedPhotos = 5;

}  // namespace farm::agent
