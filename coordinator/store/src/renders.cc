// Store methods for renders: batched inserts with dedup by param_hash, and reads.
#include <string>

#include "farm/store/store.h"
#include "render_record_split.h"
#include "render_rows.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kRenderColumns[] =
    "SELECT r.id, r.param_hash, r.params_json, r.job_id, r.artifact_id, r.rendered_at, "
    "r.created_at, r.faces_artifact_id, r.record_artifact_id, s.settings_json "
    "FROM renders r LEFT JOIN render_settings s ON s.id = r.settings_id";

Render ReadRender(SQLite::Statement& row) {
  Render render;
  render.id = row.getColumn(0).getInt64();
  render.param_hash = row.getColumn(1).getString();
  const std::string context = "render " + std::to_string(render.id) + " params_json";
  // A split record (0014_render_settings.sql) is joined back into its canonical bytes.
  const SQLite::Column settings = row.getColumn(9);
  render.params_json =
      settings.isNull()
          ? row.getColumn(2).getString()
          : ValueOrCorrupt(JoinRenderRecord(settings.getString(), row.getColumn(2).getString()),
                           context);
  render.params = ValueOrCorrupt(RenderParamsFromJson(render.params_json), context);
  render.job_id = OptionalInt64(row.getColumn(3));
  render.artifact_id = OptionalInt64(row.getColumn(4));
  render.rendered_at_ms = OptionalInt64(row.getColumn(5));
  render.created_at_ms = row.getColumn(6).getInt64();
  render.faces_artifact_id = OptionalInt64(row.getColumn(7));
  render.record_artifact_id = OptionalInt64(row.getColumn(8));
  return render;
}

}  // namespace

StatusOr<std::vector<RenderInsert>> Store::InsertRenders(const std::vector<NewRender>& renders) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("insert renders"));
  return Guarded(*impl_, "insert renders", [&]() -> StatusOr<std::vector<RenderInsert>> {
    std::vector<CanonicalRender> canonical;
    canonical.reserve(renders.size());
    for (std::size_t i = 0; i < renders.size(); ++i) {
      auto record = Canonicalize(renders[i].params, renders[i].params_json, renders[i].param_hash);
      if (!record.ok()) {
        return record.status().WithContext(impl_->path() + ": insert renders: render #" +
                                           std::to_string(i));
      }
      canonical.push_back(std::move(record).value());
    }
    const std::int64_t now = impl_->NowMs();
    std::vector<RenderInsert> results;
    results.reserve(renders.size());
    WriteScope scope(*impl_);
    {
      RenderWriter writer(*impl_);
      for (std::size_t i = 0; i < renders.size(); ++i) {
        const NewRender& render = renders[i];
        results.push_back(writer.Upsert(render.params, canonical[i], render.job_id, now));
        if (render.sweep_id == 0) continue;
        if (results.back().created) {
          writer.LinkNewToSweep(render.sweep_id, results.back().id, render.job_id, now);
        } else {
          writer.LinkToSweep(render.sweep_id, results.back().id, now);
        }
      }
    }
    scope.Commit();
    return results;
  });
}

StatusOr<Render> Store::GetRender(std::int64_t render_id) {
  return Guarded(*impl_, "get render", [&]() -> StatusOr<Render> {
    auto row = impl_->Prepare(std::string(kRenderColumns) + " WHERE r.id = ?");
    row->bind(1, static_cast<int64_t>(render_id));
    if (!row->executeStep()) return impl_->NotFoundError("render " + std::to_string(render_id));
    return ReadRender(*row);
  });
}

StatusOr<Render> Store::GetRenderByHash(const std::string& param_hash) {
  return Guarded(*impl_, "get render by hash", [&]() -> StatusOr<Render> {
    auto row = impl_->Prepare(std::string(kRenderColumns) + " WHERE r.param_hash = ?");
    row->bind(1, param_hash);
    if (!row->executeStep()) return impl_->NotFoundError("render with hash " + param_hash);
    return ReadRender(*row);
  });
}

StatusOr<std::vector<Render>> Store::ListRenders(const RenderFilter& filter) {
  // One cached statement per combination of filters; the values are bound.
  std::string sql = kRenderColumns;
  // Within a sweep, walking render_results' (sweep_id, render_id) key yields render ids in
  // order, so the ORDER BY names its column and LIMIT needs no sort of the whole sweep.
  const char* id_column = filter.sweep_id ? "sr.render_id" : "r.id";
  if (filter.sweep_id) sql += " JOIN render_results sr ON sr.render_id = r.id AND sr.sweep_id = ?";
  sql += std::string(" WHERE ") + id_column + " > ?";
  if (filter.sampler) sql += " AND r.sampler = ?";
  if (filter.pose) sql += " AND r.pose IS ?";
  if (filter.tone) sql += " AND r.tone IS ?";
  if (filter.rendered) {
    sql += *filter.rendered ? " AND r.artifact_id IS NOT NULL" : " AND r.artifact_id IS NULL";
  }
  sql += std::string(" ORDER BY ") + id_column;
  if (filter.limit > 0) sql += " LIMIT ?";
  return Guarded(*impl_, "list renders", [&]() -> StatusOr<std::vector<Render>> {
    auto rows = impl_->Prepare(sql);
    int index = 0;
    if (filter.sweep_id) rows->bind(++index, static_cast<int64_t>(*filter.sweep_id));
    rows->bind(++index, static_cast<int64_t>(filter.after_id));
    if (filter.sampler) rows->bind(++index, *filter.sampler);
    if (filter.pose) BindTextOrNull(*rows, ++index, *filter.pose);
    if (filter.tone) BindTextOrNull(*rows, ++index, *filter.tone);
    if (filter.limit > 0) rows->bind(++index, static_cast<int64_t>(filter.limit));
    std::vector<Render> renders;
    while (rows->executeStep()) renders.push_back(ReadRender(*rows));
    return renders;
  });
}

Status Store::SetRenderArtifact(std::int64_t render_id, std::int64_t artifact_id) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set render artifact"));
  return Guarded(*impl_, "set render artifact", [&]() -> Status {
    auto update =
        impl_->Prepare("UPDATE renders SET artifact_id = ?, rendered_at = ? WHERE id = ?");
    update->bind(1, static_cast<int64_t>(artifact_id));
    update->bind(2, static_cast<int64_t>(impl_->NowMs()));
    update->bind(3, static_cast<int64_t>(render_id));
    if (update->exec() == 0) return impl_->NotFoundError("render " + std::to_string(render_id));
    // Sweeps' rows of a render without a producing job show this image; rows served by a
    // job get theirs through RecordRenderResult.
    auto results = impl_->Prepare(
        "UPDATE render_results SET artifact_id = ?1, rendered_at = ?2, "
        "image_sha256 = (SELECT sha256 FROM artifacts WHERE id = ?1) "
        "WHERE render_id = ?3 AND job_id IS NULL");
    results->bind(1, static_cast<int64_t>(artifact_id));
    results->bind(2, static_cast<int64_t>(impl_->NowMs()));
    results->bind(3, static_cast<int64_t>(render_id));
    results->exec();
    return Status::Ok();
  });
}

Status Store::SetRenderStageImage(std::int64_t render_id, const std::string& stage,
                                  std::int64_t artifact_id) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set render stage image"));
  if (stage.empty()) return InvalidArgument("render stage image without a stage name");
  return Guarded(*impl_, "set render stage image", [&]() -> Status {
    auto insert = impl_->Prepare(
        "INSERT OR REPLACE INTO render_stage_images (render_id, stage, artifact_id) VALUES (?, ?, ?)");
    insert->bind(1, static_cast<int64_t>(render_id));
    insert->bind(2, stage);
    insert->bind(3, static_cast<int64_t>(artifact_id));
    insert->exec();
    return Status::Ok();
  });
}

StatusOr<std::map<std::string, std::int64_t>> Store::ListRenderStageImages(std::int64_t render_id) {
  return Guarded(*impl_, "list render stage images",
                 [&]() -> StatusOr<std::map<std::string, std::int64_t>> {
                   auto rows = impl_->Prepare(
                       "SELECT stage, artifact_id FROM render_stage_images WHERE render_id = ? "
                       "ORDER BY stage");
                   rows->bind(1, static_cast<int64_t>(render_id));
                   std::map<std::string, std::int64_t> out;
                   while (rows->executeStep()) {
                     out.emplace(rows->getColumn(0).getString(), rows->getColumn(1).getInt64());
                   }
                   return out;
                 });
}

Status Store::SetRenderRecordArtifact(std::int64_t render_id, std::int64_t artifact_id) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set render record artifact"));
  return Guarded(*impl_, "set render record artifact", [&]() -> Status {
    auto update = impl_->Prepare("UPDATE renders SET record_artifact_id = ? WHERE id = ?");
    update->bind(1, static_cast<int64_t>(artifact_id));
    update->bind(2, static_cast<int64_t>(render_id));
    if (update->exec() == 0) return impl_->NotFoundError("render " + std::to_string(render_id));
    return Status::Ok();
  });
}

Status Store::SetRenderFacesArtifact(std::int64_t render_id, std::int64_t artifact_id) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set render faces artifact"));
  return Guarded(*impl_, "set render faces artifact", [&]() -> Status {
    auto update = impl_->Prepare("UPDATE renders SET faces_artifact_id = ? WHERE id = ?");
    update->bind(1, static_cast<int64_t>(artifact_id));
    update->bind(2, static_cast<int64_t>(render_id));
    if (update->exec() == 0) return impl_->NotFoundError("render " + std::to_string(render_id));
    return Status::Ok();
  });
}

}  // namespace farm::store
