// Store methods for the named outputs of jobs (job_artifacts): how an agent's request for
// "the artifact N of the job with param_hash H" finds its file.
#include <string>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kJobArtifactColumns[] =
    "SELECT ja.job_id, ja.name, a.id, a.sha256, a.size, a.path, a.media_type, a.created_at "
    "FROM job_artifacts ja JOIN artifacts a ON a.id = ja.artifact_id";

JobArtifact ReadJobArtifact(SQLite::Statement& row) {
  JobArtifact out;
  out.job_id = row.getColumn(0).getInt64();
  out.name = row.getColumn(1).getString();
  out.artifact.id = row.getColumn(2).getInt64();
  out.artifact.sha256 = row.getColumn(3).getString();
  out.artifact.size = row.getColumn(4).getInt64();
  out.artifact.path = row.getColumn(5).getString();
  out.artifact.media_type = row.getColumn(6).getString();
  out.artifact.created_at_ms = row.getColumn(7).getInt64();
  return out;
}

}  // namespace

Status Store::SetJobArtifact(std::int64_t job_id, const std::string& name,
                             std::int64_t artifact_id) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set job artifact"));
  if (name.empty()) {
    return InvalidArgument(impl_->path() + ": set job artifact: job " + std::to_string(job_id) +
                           ": the artifact name is empty");
  }
  return Guarded(*impl_, "set job artifact", [&]() -> Status {
    auto insert = impl_->Prepare(
        "INSERT OR REPLACE INTO job_artifacts (job_id, name, artifact_id) VALUES (?, ?, ?)");
    insert->bind(1, static_cast<int64_t>(job_id));
    insert->bind(2, name);
    insert->bind(3, static_cast<int64_t>(artifact_id));
    insert->exec();
    return Status::Ok();
  });
}

StatusOr<std::vector<JobArtifact>> Store::ListJobArtifacts(std::int64_t job_id) {
  return Guarded(*impl_, "list job artifacts", [&]() -> StatusOr<std::vector<JobArtifact>> {
    auto rows = impl_->Prepare(std::string(kJobArtifactColumns) +
                               " WHERE ja.job_id = ? ORDER BY ja.name");
    rows->bind(1, static_cast<int64_t>(job_id));
    std::vector<JobArtifact> out;
    while (rows->executeStep()) out.push_back(ReadJobArtifact(*rows));
    return out;
  });
}

StatusOr<JobArtifact> Store::FindJobArtifact(const std::string& param_hash,
                                             const std::string& name) {
  return Guarded(*impl_, "find job artifact", [&]() -> StatusOr<JobArtifact> {
    auto row = impl_->Prepare(std::string(kJobArtifactColumns) +
                              " JOIN jobs j ON j.id = ja.job_id"
                              " WHERE j.param_hash = ? AND ja.name = ? AND j.state = 'succeeded'"
                              " ORDER BY j.id DESC LIMIT 1");
    row->bind(1, param_hash);
    row->bind(2, name);
    if (!row->executeStep()) {
      return impl_->NotFoundError("artifact '" + name + "' of a succeeded job with param_hash " +
                                  param_hash);
    }
    return ReadJobArtifact(*row);
  });
}

}  // namespace farm::store
