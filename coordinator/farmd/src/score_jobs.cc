// Score jobs, completed by farmd itself: once the render parent succeeded, its "faces"
// artifact (the agent embedded the render's faces) is scored against the identity's
// photo descriptors with farm_face_score. The score row and the job's end are written in
// one decisions transaction.
#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "coordinator_impl.h"
#include "farm/faceid/face_score.h"

namespace farm::farmd {
namespace {

using nlohmann::json;

struct ScoreRequest {
  std::string render_param_hash;
  std::string identity;
  std::string photos_sha256;
  std::string metric;
};

StatusOr<ScoreRequest> ParseScoreRequest(const std::string& params_json) {
  json doc = json::parse(params_json, nullptr, false);
  if (!doc.is_object()) return InvalidArgument("score params are not a JSON object");
  ScoreRequest request;
  auto text = [&](const char* key, std::string* out) -> Status {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) {
      return InvalidArgument(std::string("score params lack string field '") + key + "'");
    }
    *out = it->get<std::string>();
    return Status::Ok();
  };
  FARM_RETURN_IF_ERROR(text("render", &request.render_param_hash));
  FARM_RETURN_IF_ERROR(text("identity", &request.identity));
  FARM_RETURN_IF_ERROR(text("photos", &request.photos_sha256));
  FARM_RETURN_IF_ERROR(text("metric", &request.metric));
  return request;
}

struct RenderFaces {
  std::string model_version;
  std::vector<faceid::Descriptor> descriptors;
};

StatusOr<RenderFaces> ParseFaces(const std::string& text) {
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object()) return DataLoss("faces artifact is not a JSON object");
  RenderFaces out;
  auto version = doc.find("model_version");
  if (version == doc.end() || !version->is_string() || version->get<std::string>().empty()) {
    return DataLoss("faces artifact has no model_version");
  }
  out.model_version = version->get<std::string>();
  auto faces = doc.find("faces");
  if (faces == doc.end() || !faces->is_array()) return DataLoss("faces artifact has no faces array");
  for (const json& face : *faces) {
    auto d = face.is_object() ? face.find("descriptor") : face.end();
    if (d == face.end() || !d->is_array()) return DataLoss("a face in the artifact has no descriptor");
    faceid::Descriptor descriptor;
    descriptor.reserve(d->size());
    for (const json& v : *d) {
      if (!v.is_number()) return DataLoss("a face descriptor holds a non-number");
      descriptor.push_back(v.get<float>());
    }
    out.descriptors.push_back(std::move(descriptor));
  }
  return out;
}

StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace

StatusOr<store::NewScore> CoordinatorImpl::ComputeScore(scheduler::JobId job_id) {
  FARM_ASSIGN_OR_RETURN(store::Job job, store_.GetJob(job_id));
  FARM_ASSIGN_OR_RETURN(ScoreRequest request, ParseScoreRequest(job.params_json));
  std::optional<faceid::Metric> metric = faceid::ParseMetric(request.metric);
  if (!metric) return InvalidArgument("unknown score metric '" + request.metric + "'");
  FARM_ASSIGN_OR_RETURN(store::Render render, store_.GetRenderByHash(request.render_param_hash));
  FARM_ASSIGN_OR_RETURN(store::Identity identity, store_.GetIdentityByName(request.identity));
  if (identity.photos_sha256 != request.photos_sha256) {
    return FailedPrecondition("identity '" + identity.name + "' photos changed: the sweep asked for " +
                              request.photos_sha256 + ", the database holds " +
                              identity.photos_sha256);
  }
  // The faces of the image this sweep got (a re-evaluation's may differ from the
  // render's newest); the render's own for a sweep without a result row.
  std::optional<std::int64_t> faces_artifact_id = render.faces_artifact_id;
  if (auto result = store_.GetRenderResult(job.sweep_id, render.id); result.ok()) {
    if (result->faces_artifact_id) faces_artifact_id = result->faces_artifact_id;
  }
  if (!faces_artifact_id) return FailedPrecondition("render has no face data");
  FARM_ASSIGN_OR_RETURN(store::Artifact artifact, store_.GetArtifact(*faces_artifact_id));
  FARM_ASSIGN_OR_RETURN(std::string text, ReadFile(uploads_.root() / artifact.path));
  FARM_ASSIGN_OR_RETURN(RenderFaces faces, ParseFaces(text));
  faceid::IdentityReference reference;
  for (const store::IdentityPhoto& photo : identity.photos) {
    if (photo.descriptor.empty()) continue;
    if (photo.descriptor_model != faces.model_version) {
      return FailedPrecondition("identity '" + identity.name + "' photo " +
                                std::to_string(photo.id) + " was embedded with face model '" +
                                photo.descriptor_model + "' but the render's faces with '" +
                                faces.model_version + "': run farmctl identity add again");
    }
    reference.descriptors.push_back(photo.descriptor);
  }
  faceid::FaceScore score = faceid::ScoreFaces(faces.descriptors, reference, *metric);
  store::NewScore row;
  row.render_id = render.id;
  row.identity_id = identity.id;
  row.job_id = job_id;
  row.metric = std::string(faceid::MetricName(*metric));
  row.model_version = faces.model_version;
  row.similarity = score.similarity;
  row.faces_found = score.faces_found;
  row.reason = score.reason;
  return row;
}

void CoordinatorImpl::RunCoordinatorJobs() {
  std::vector<scheduler::JobId> jobs = scheduler_->TakeCoordinatorJobs();
  if (jobs.empty()) return;
  std::vector<store::NewScore> rows;
  for (scheduler::JobId job : jobs) {
    StatusOr<store::NewScore> row = ComputeScore(job);
    std::string reason;
    if (row.ok()) {
      rows.push_back(std::move(*row));
    } else {
      reason = row.status().message();
      spdlog::warn("score job {} failed: {}", job, reason);
      coordinator_failures_.insert(job);
    }
    Status done = scheduler_->CompleteCoordinatorJob(job, row.ok(), reason);
    if (!done.ok()) spdlog::info("job={} not completed: {}", job, done.message());
  }
  ProcessDecisions([this, rows = std::move(rows)]() -> Status {
    if (rows.empty()) return Status::Ok();
    return store_.InsertScores(rows).status();
  });
}

}  // namespace farm::farmd
