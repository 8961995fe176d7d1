// Store methods for render_results: each sweep's view of its renders (see
// 0008_render_results.sql for when the rows are written).
#include <string>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kResultColumns[] =
    "SELECT id, sweep_id, render_id, job_id, artifact_id, image_sha256, faces_artifact_id, "
    "agent_id, agent_version, seconds, rendered_at, identity_id, score, euclidean, faces_found, "
    "created_at FROM render_results";

RenderResult ReadResult(SQLite::Statement& row) {
  RenderResult result;
  result.id = row.getColumn(0).getInt64();
  result.sweep_id = row.getColumn(1).getInt64();
  result.render_id = row.getColumn(2).getInt64();
  result.job_id = OptionalInt64(row.getColumn(3));
  result.artifact_id = OptionalInt64(row.getColumn(4));
  result.image_sha256 = TextOrEmpty(row.getColumn(5));
  result.faces_artifact_id = OptionalInt64(row.getColumn(6));
  result.agent_id = TextOrEmpty(row.getColumn(7));
  result.agent_version = TextOrEmpty(row.getColumn(8));
  result.seconds = OptionalDouble(row.getColumn(9));
  result.rendered_at_ms = OptionalInt64(row.getColumn(10));
  result.identity_id = OptionalInt64(row.getColumn(11));
  result.score = OptionalDouble(row.getColumn(12));
  result.euclidean = OptionalDouble(row.getColumn(13));
  if (auto faces = OptionalInt64(row.getColumn(14))) result.faces_found = static_cast<int>(*faces);
  result.created_at_ms = row.getColumn(15).getInt64();
  return result;
}

}  // namespace

Status Store::RecordRenderResult(const RenderResultUpdate& update) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("record render result"));
  if (update.artifact_id <= 0) {
    return InvalidArgument(impl_->path() + ": record render result of job " +
                           std::to_string(update.job_id) + ": no image artifact");
  }
  return Guarded(*impl_, "record render result", [&]() -> Status {
    auto write = impl_->Prepare(
        "UPDATE render_results SET artifact_id = ?, image_sha256 = ?, faces_artifact_id = ?, "
        "agent_id = ?, agent_version = ?, seconds = ?, rendered_at = ? WHERE job_id = ?");
    write->bind(1, static_cast<int64_t>(update.artifact_id));
    BindTextOrNull(*write, 2, update.image_sha256);
    BindIdOrNull(*write, 3, update.faces_artifact_id);
    BindTextOrNull(*write, 4, update.agent_id);
    BindTextOrNull(*write, 5, update.agent_version);
    if (update.seconds) {
      write->bind(6, *update.seconds);
    } else {
      write->bind(6);
    }
    write->bind(7, static_cast<int64_t>(update.rendered_at_ms > 0 ? update.rendered_at_ms
                                                                  : impl_->NowMs()));
    write->bind(8, static_cast<int64_t>(update.job_id));
    if (write->exec() == 0) {
      return impl_->NotFoundError("render result of job " + std::to_string(update.job_id));
    }
    return Status::Ok();
  });
}

StatusOr<RenderResult> Store::GetRenderResult(std::int64_t sweep_id, std::int64_t render_id) {
  return Guarded(*impl_, "get render result", [&]() -> StatusOr<RenderResult> {
    auto row = impl_->Prepare(std::string(kResultColumns) + " WHERE sweep_id = ? AND render_id = ?");
    row->bind(1, static_cast<int64_t>(sweep_id));
    row->bind(2, static_cast<int64_t>(render_id));
    if (!row->executeStep()) {
      return impl_->NotFoundError("result of render " + std::to_string(render_id) + " in sweep " +
                                  std::to_string(sweep_id));
    }
    return ReadResult(*row);
  });
}

StatusOr<std::vector<RenderResult>> Store::ListRenderResults(std::int64_t render_id) {
  return Guarded(*impl_, "list render results", [&]() -> StatusOr<std::vector<RenderResult>> {
    auto rows = impl_->Prepare(std::string(kResultColumns) + " WHERE render_id = ? ORDER BY sweep_id");
    rows->bind(1, static_cast<int64_t>(render_id));
    std::vector<RenderResult> results;
    while (rows->executeStep()) results.push_back(ReadResult(*rows));
    return results;
  });
}

}  // namespace farm::store
