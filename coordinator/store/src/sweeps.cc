// Store methods for sweeps, including the one-transaction CreateSweep.
#include <string>

#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "job_rows.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kSweepColumns[] =
    "SELECT id, name, spec_yaml, spec_sha256, priority, state, created_at, updated_at "
    "FROM sweeps";

Sweep ReadSweep(SQLite::Statement& row) {
  Sweep sweep;
  sweep.id = row.getColumn(0).getInt64();
  sweep.name = row.getColumn(1).getString();
  sweep.spec_yaml = row.getColumn(2).getString();
  sweep.spec_sha256 = row.getColumn(3).getString();
  sweep.priority = row.getColumn(4).getInt();
  sweep.state = ValueOrCorrupt(ParseSweepState(row.getColumn(5).getText()),
                               "sweep " + std::to_string(sweep.id));
  sweep.created_at_ms = row.getColumn(6).getInt64();
  sweep.updated_at_ms = row.getColumn(7).getInt64();
  return sweep;
}

}  // namespace

StatusOr<CreatedSweep> Store::CreateSweep(const NewSweep& sweep) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("create sweep"));
  if (sweep.name.empty()) return InvalidArgument(impl_->path() + ": create sweep: empty name");
  return Guarded(*impl_, "create sweep '" + sweep.name + "'", [&]() -> StatusOr<CreatedSweep> {
    FARM_ASSIGN_OR_RETURN(auto canonical, PrepareJobs(impl_->path(), sweep.jobs));
    const std::string spec_sha256 = Sha256Hex(sweep.spec_yaml);
    const std::int64_t now = impl_->NowMs();
    WriteScope scope(*impl_);
    CreatedSweep created;
    {
      auto insert = impl_->Prepare(
          "INSERT INTO sweeps (name, spec_yaml, spec_sha256, priority, state, created_at, "
          "updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)");
      insert->bind(1, sweep.name);
      insert->bind(2, sweep.spec_yaml);
      insert->bind(3, spec_sha256);
      insert->bind(4, sweep.priority);
      insert->bind(5, static_cast<int64_t>(now));
      insert->bind(6, static_cast<int64_t>(now));
      insert->exec();
      created.sweep_id = impl_->db().getLastInsertRowid();
    }
    created.jobs = WriteJobs(*impl_, created.sweep_id, sweep.jobs, canonical);
    scope.Commit();
    return created;
  });
}

StatusOr<Sweep> Store::GetSweep(std::int64_t sweep_id) {
  return Guarded(*impl_, "get sweep", [&]() -> StatusOr<Sweep> {
    auto row = impl_->Prepare(std::string(kSweepColumns) + " WHERE id = ?");
    row->bind(1, static_cast<int64_t>(sweep_id));
    if (!row->executeStep()) return impl_->NotFoundError("sweep " + std::to_string(sweep_id));
    return ReadSweep(*row);
  });
}

StatusOr<std::vector<Sweep>> Store::ListSweeps(std::int64_t limit) {
  return Guarded(*impl_, "list sweeps", [&]() -> StatusOr<std::vector<Sweep>> {
    // LIMIT -1 is SQLite's "no limit".
    auto rows = impl_->Prepare(std::string(kSweepColumns) + " ORDER BY id DESC LIMIT ?");
    rows->bind(1, static_cast<int64_t>(limit > 0 ? limit : -1));
    std::vector<Sweep> sweeps;
    while (rows->executeStep()) sweeps.push_back(ReadSweep(*rows));
    return sweeps;
  });
}

Status Store::SetSweepState(std::int64_t sweep_id, SweepState state) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set sweep state"));
  return Guarded(*impl_, "set sweep state", [&]() -> Status {
    auto update = impl_->Prepare("UPDATE sweeps SET state = ?, updated_at = ? WHERE id = ?");
    update->bind(1, Name(state));
    update->bind(2, static_cast<int64_t>(impl_->NowMs()));
    update->bind(3, static_cast<int64_t>(sweep_id));
    if (update->exec() == 0) return impl_->NotFoundError("sweep " + std::to_string(sweep_id));
    return Status::Ok();
  });
}

Status Store::SetSweepPriority(std::int64_t sweep_id, int priority) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set sweep priority"));
  return Guarded(*impl_, "set sweep priority", [&]() -> Status {
    WriteScope scope(*impl_);  // the sweep and its jobs together, or neither
    auto sweep = impl_->Prepare("UPDATE sweeps SET priority = ?, updated_at = ? WHERE id = ?");
    sweep->bind(1, priority);
    sweep->bind(2, static_cast<int64_t>(impl_->NowMs()));
    sweep->bind(3, static_cast<int64_t>(sweep_id));
    if (sweep->exec() == 0) return impl_->NotFoundError("sweep " + std::to_string(sweep_id));
    auto jobs = impl_->Prepare(
        "UPDATE jobs SET priority = ? WHERE sweep_id = ? AND state IN ('queued', 'leased')");
    jobs->bind(1, priority);
    jobs->bind(2, static_cast<int64_t>(sweep_id));
    jobs->exec();
    scope.Commit();
    return Status::Ok();
  });
}

}  // namespace farm::store
