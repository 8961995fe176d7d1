#include "farm/agent/prepare_runner.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "farm/agent/folder_bundle.h"
#include "farm/agent/prepare_dataset.h"
#include "farm/faceid/pipeline.h"
#include "farm/schemas/sha256.h"

namespace farm::agent {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

struct PhotoRef {
  std::string path;  // as the record gives it
  std::string sha256;
};

struct PrepareJob {
  std::string identity;
  std::string instance_token;
  std::vector<PhotoRef> photos;
  PrepareSettings settings;
};

Status Expect(bool ok, const std::string& what) {
  return ok ? Status::Ok() : InvalidArgument("prepare params: " + what);
}

// The PrepareParams record; "settings" may also be given flat at the top level.
StatusOr<PrepareJob> ParsePrepareParams(const std::string& text) {
  const json doc = json::parse(text, nullptr, false);
  FARM_RETURN_IF_ERROR(Expect(!doc.is_discarded() && doc.is_object(), "not a JSON object"));
  PrepareJob job;
  const json settings = doc.contains("settings") ? doc["settings"] : doc;
  FARM_RETURN_IF_ERROR(Expect(settings.is_object(), "'settings' must be an object"));
  try {
    job.identity = doc.value("identity", std::string());
    job.instance_token = doc.value("instance_token", std::string("sks person"));
    job.settings.crop_ratio = settings.value("crop_ratio", job.settings.crop_ratio);
    job.settings.resolution = settings.value("resolution", job.settings.resolution);
    job.settings.caption_template = settings.value("caption_template", job.settings.caption_template);
    job.settings.pick_largest = settings.value("pick_largest", job.settings.pick_largest);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("prepare params: a field has the wrong type: ") + e.what());
  }
  FARM_RETURN_IF_ERROR(Expect(doc.contains("photos") && doc["photos"].is_array() && !doc["photos"].empty(),
                              "'photos' must be a non-empty list of {path, sha256}"));
  for (const json& p : doc["photos"]) {
    FARM_RETURN_IF_ERROR(Expect(p.is_object() && p.contains("path") && p["path"].is_string() &&
                                    p.contains("sha256") && p["sha256"].is_string(),
                                "each photo must be {path: string, sha256: string}, got " + p.dump()));
    PhotoRef ref{p["path"].get<std::string>(), p["sha256"].get<std::string>()};
    FARM_RETURN_IF_ERROR(Expect(!ref.path.empty(), "a photo has an empty path"));
    FARM_RETURN_IF_ERROR(Expect(ref.sha256.size() == 64, "photo " + ref.path + ": sha256 must be 64 hex digits"));
    for (const auto& part : fs::path(ref.path)) {
      FARM_RETURN_IF_ERROR(Expect(part != "..", "photo path " + ref.path + " leaves the models folder"));
    }
    job.photos.push_back(std::move(ref));
  }
  FARM_RETURN_IF_ERROR(ValidateSettings(job.settings));
  return job;
}

// The photo's local file, checked against its recorded hash.
StatusOr<std::string> LocatePhoto(const std::string& models_dir, const PhotoRef& photo) {
  const fs::path path = fs::path(photo.path).is_absolute() ? fs::path(photo.path) : fs::path(models_dir) / photo.path;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return NotFound("photo " + photo.path + " is not on this agent (looked for " + path.string() + ")");
  }
  StatusOr<std::string> sha = Sha256File(path.string());
  if (!sha.ok()) return NotFound("photo " + photo.path + ": cannot read " + path.string());
  if (*sha != photo.sha256) {
    return NotFound("photo " + photo.path + " on this agent (" + path.string() + ") has sha256 " + *sha +
                    ", the job expects " + photo.sha256);
  }
  return path.string();
}

}  // namespace

PrepareRunner::PrepareRunner(PrepareRunnerOptions options) : options_(std::move(options)) {}
PrepareRunner::~PrepareRunner() = default;

Status PrepareRunner::LoadFacesLocked() {
  if (faces_) return Status::Ok();
  FARM_ASSIGN_OR_RETURN(detector_, FaceDetectorVersion(options_.face_models_dir));
  FARM_ASSIGN_OR_RETURN(faceid::FacePipeline faces, faceid::FacePipeline::Load(options_.face_models_dir));
  faces_ = std::make_unique<faceid::FacePipeline>(std::move(faces));
  return Status::Ok();
}

JobOutcome PrepareRunner::Run(const JobSpec& spec, const ProgressFn& progress, const CancellationToken& cancel) {
  StatusOr<PrepareJob> job = ParsePrepareParams(spec.params_json);
  if (!job.ok()) return FailedOutcome(job.status());
  PrepareRequest request;
  request.instance_token = job->instance_token;
  request.settings = job->settings;
  request.out_root = options_.datasets_dir;
  for (const PhotoRef& photo : job->photos) {
    StatusOr<std::string> path = LocatePhoto(options_.models_dir, photo);
    if (!path.ok()) return FailedOutcome(path.status());
    request.photos.push_back(*path);
  }
  std::error_code ec;
  fs::create_directories(options_.datasets_dir, ec);
  if (ec) return FailedOutcome(Unavailable("datasets folder " + options_.datasets_dir + ": " + ec.message()));

  const uint32_t total = static_cast<uint32_t>(request.photos.size());
  uint32_t done = 0;
  auto say = [&](const std::string& line) {
    if (progress && done < total) progress({"prepare", done++, total, line});
  };
  StatusOr<PrepareResult> result = [&]() -> StatusOr<PrepareResult> {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancel.stop_requested()) return Unavailable("cancelled before preparing");
    FARM_RETURN_IF_ERROR(LoadFacesLocked().WithContext("face models " + options_.face_models_dir));
    return PrepareDataset(*faces_, detector_, request, say);
  }();
  if (cancel.stop_requested()) {
    JobOutcome cancelled;
    cancelled.status = JobStatus::kCancelled;
    cancelled.error = "prepare of " + job->identity + " cancelled";
    return cancelled;
  }
  if (!result.ok()) {
    JobOutcome failed = FailedOutcome(result.status().WithContext("prepare " + job->identity));
    // No usable photo: every agent would find the same faces in the same bytes.
    if (result.status().code() == StatusCode::kFailedPrecondition &&
        result.status().message().find("face models") == std::string::npos) {
      failed.permanent = true;
    }
    return failed;
  }
  StatusOr<std::string> bundle = BundleFolder(result->folder);
  if (!bundle.ok()) return FailedOutcome(bundle.status().WithContext("bundling " + result->folder));
  if (progress) progress({"prepare", total, total, std::to_string(result->manifest.images.size()) + " images"});
  JobOutcome outcome;
  outcome.status = JobStatus::kSucceeded;
  outcome.metrics["images"] = static_cast<double>(result->manifest.images.size());
  outcome.metrics["skipped"] = static_cast<double>(result->manifest.skipped.size());
  outcome.artifacts.push_back({"dataset", "application/x-tar", std::move(*bundle)});
  return outcome;
}

}  // namespace farm::agent
