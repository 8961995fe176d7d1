// Store methods for artifacts: content-addressed files under the artifact root.
#include <string>
#include <string_view>

#include "farm/store/store.h"
#include "store_impl.h"
#include "farm/schemas/safe_path.h"

namespace farm::store {
namespace {

constexpr char kArtifactColumns[] =
    "SELECT id, sha256, size, path, media_type, created_at FROM artifacts";


Artifact ReadArtifact(SQLite::Statement& row) {
  Artifact artifact;
  artifact.id = row.getColumn(0).getInt64();
  artifact.sha256 = row.getColumn(1).getString();
  artifact.size = row.getColumn(2).getInt64();
  artifact.path = row.getColumn(3).getString();
  artifact.media_type = row.getColumn(4).getString();
  artifact.created_at_ms = row.getColumn(5).getInt64();
  return artifact;
}

}  // namespace

StatusOr<std::int64_t> Store::InsertArtifact(const NewArtifact& artifact) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("insert artifact"));
  const std::string what = impl_->path() + ": insert artifact " + artifact.sha256;
  if (!IsSha256Hex(artifact.sha256)) {
    return InvalidArgument(what + ": sha256 must be 64 lower-case hex digits");
  }
  if (!IsSafeRelativePath(artifact.path)) {
    return InvalidArgument(what + ": path '" + artifact.path +
                           "' must be relative to the artifact root, without '.', '..' or "
                           "empty components");
  }
  return Guarded(*impl_, "insert artifact", [&]() -> StatusOr<std::int64_t> {
    WriteScope scope(*impl_);
    {
      auto existing = impl_->Prepare("SELECT id, size FROM artifacts WHERE sha256 = ?");
      existing->bind(1, artifact.sha256);
      if (existing->executeStep()) {
        if (existing->getColumn(1).getInt64() != artifact.size) {
          return InvalidArgument(what + ": already stored with size " +
                                 std::to_string(existing->getColumn(1).getInt64()) + ", not " +
                                 std::to_string(artifact.size));
        }
        return existing->getColumn(0).getInt64();  // nothing written; scope rolls back
      }
    }
    auto insert = impl_->Prepare(
        "INSERT INTO artifacts (sha256, size, path, media_type, created_at) "
        "VALUES (?, ?, ?, ?, ?)");
    insert->bind(1, artifact.sha256);
    insert->bind(2, static_cast<int64_t>(artifact.size));
    insert->bind(3, artifact.path);
    insert->bind(4, artifact.media_type);
    insert->bind(5, static_cast<int64_t>(impl_->NowMs()));
    insert->exec();
    const std::int64_t id = impl_->db().getLastInsertRowid();
    scope.Commit();
    return id;
  });
}

StatusOr<Artifact> Store::GetArtifact(std::int64_t artifact_id) {
  return Guarded(*impl_, "get artifact", [&]() -> StatusOr<Artifact> {
    auto row = impl_->Prepare(std::string(kArtifactColumns) + " WHERE id = ?");
    row->bind(1, static_cast<int64_t>(artifact_id));
    if (!row->executeStep()) return impl_->NotFoundError("artifact " + std::to_string(artifact_id));
    return ReadArtifact(*row);
  });
}

StatusOr<Artifact> Store::GetArtifactBySha256(const std::string& sha256) {
  return Guarded(*impl_, "get artifact by sha256", [&]() -> StatusOr<Artifact> {
    auto row = impl_->Prepare(std::string(kArtifactColumns) + " WHERE sha256 = ?");
    row->bind(1, sha256);
    if (!row->executeStep()) return impl_->NotFoundError("artifact " + sha256);
    return ReadArtifact(*row);
  });
}

}  // namespace farm::store
