// Store methods for jobs and their dependencies.
#include <string>

#include "farm/store/store.h"
#include "job_rows.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kJobColumns[] =
    "SELECT id, sweep_id, kind, param_hash, params_json, state, priority, attempt_count, "
    "last_error, created_at, updated_at FROM jobs";

Job ReadJob(SQLite::Statement& row) {
  Job job;
  job.id = row.getColumn(0).getInt64();
  const std::string context = "job " + std::to_string(job.id);
  job.sweep_id = row.getColumn(1).getInt64();
  job.kind = ValueOrCorrupt(ParseJobKind(row.getColumn(2).getText()), context);
  job.param_hash = row.getColumn(3).getString();
  job.params_json = row.getColumn(4).getString();
  job.state = ValueOrCorrupt(ParseJobState(row.getColumn(5).getText()), context);
  job.priority = row.getColumn(6).getInt();
  job.attempt_count = row.getColumn(7).getInt();
  job.last_error = TextOrEmpty(row.getColumn(8));
  job.created_at_ms = row.getColumn(9).getInt64();
  job.updated_at_ms = row.getColumn(10).getInt64();
  return job;
}

}  // namespace

StatusOr<InsertedJobs> Store::InsertJobs(std::int64_t sweep_id, const std::vector<NewJob>& jobs) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("insert jobs"));
  return Guarded(*impl_, "insert jobs", [&]() -> StatusOr<InsertedJobs> {
    FARM_ASSIGN_OR_RETURN(auto canonical, PrepareJobs(impl_->path(), jobs));
    WriteScope scope(*impl_);
    auto sweep = impl_->Prepare("SELECT 1 FROM sweeps WHERE id = ?");
    sweep->bind(1, static_cast<int64_t>(sweep_id));
    if (!sweep->executeStep()) return impl_->NotFoundError("sweep " + std::to_string(sweep_id));
    InsertedJobs result = WriteJobs(*impl_, sweep_id, jobs, canonical);
    scope.Commit();
    return result;
  });
}

StatusOr<Job> Store::GetJob(std::int64_t job_id) {
  return Guarded(*impl_, "get job", [&]() -> StatusOr<Job> {
    auto row = impl_->Prepare(std::string(kJobColumns) + " WHERE id = ?");
    row->bind(1, static_cast<int64_t>(job_id));
    if (!row->executeStep()) return impl_->NotFoundError("job " + std::to_string(job_id));
    return ReadJob(*row);
  });
}

StatusOr<std::vector<Job>> Store::ListJobs(const JobFilter& filter) {
  std::string sql = std::string(kJobColumns) + " WHERE id > ?";
  if (filter.sweep_id) sql += " AND sweep_id = ?";
  if (filter.state) sql += " AND state = ?";
  if (filter.kind) sql += " AND kind = ?";
  sql += " ORDER BY id";
  if (filter.limit > 0) sql += " LIMIT ?";
  return Guarded(*impl_, "list jobs", [&]() -> StatusOr<std::vector<Job>> {
    auto rows = impl_->Prepare(sql);
    int index = 0;
    rows->bind(++index, static_cast<int64_t>(filter.after_id));
    if (filter.sweep_id) rows->bind(++index, static_cast<int64_t>(*filter.sweep_id));
    if (filter.state) rows->bind(++index, Name(*filter.state));
    if (filter.kind) rows->bind(++index, Name(*filter.kind));
    if (filter.limit > 0) rows->bind(++index, static_cast<int64_t>(filter.limit));
    std::vector<Job> jobs;
    while (rows->executeStep()) jobs.push_back(ReadJob(*rows));
    return jobs;
  });
}

StatusOr<std::vector<Job>> Store::ListJobsByParamHash(const std::string& param_hash) {
  return Guarded(*impl_, "list jobs by param_hash", [&]() -> StatusOr<std::vector<Job>> {
    // param_hash leads the (param_hash, kind, sweep_id) unique index.
    auto rows = impl_->Prepare(std::string(kJobColumns) + " WHERE param_hash = ? ORDER BY id DESC");
    rows->bind(1, param_hash);
    std::vector<Job> jobs;
    while (rows->executeStep()) jobs.push_back(ReadJob(*rows));
    return jobs;
  });
}

StatusOr<std::map<JobState, std::int64_t>> Store::CountJobsByState(
    std::optional<std::int64_t> sweep_id) {
  std::string sql = "SELECT state, count(*) FROM jobs";
  if (sweep_id) sql += " WHERE sweep_id = ?";
  sql += " GROUP BY state";
  return Guarded(*impl_, "count jobs", [&]() -> StatusOr<std::map<JobState, std::int64_t>> {
    auto rows = impl_->Prepare(sql);
    if (sweep_id) rows->bind(1, static_cast<int64_t>(*sweep_id));
    std::map<JobState, std::int64_t> counts;
    while (rows->executeStep()) {
      JobState state = ValueOrCorrupt(ParseJobState(rows->getColumn(0).getText()), "count jobs");
      counts[state] = rows->getColumn(1).getInt64();
    }
    return counts;
  });
}

StatusOr<std::vector<std::int64_t>> Store::ListJobDeps(std::int64_t job_id) {
  return Guarded(*impl_, "list job deps", [&]() -> StatusOr<std::vector<std::int64_t>> {
    auto rows = impl_->Prepare(
        "SELECT depends_on_job_id FROM job_deps WHERE job_id = ? ORDER BY depends_on_job_id");
    rows->bind(1, static_cast<int64_t>(job_id));
    std::vector<std::int64_t> deps;
    while (rows->executeStep()) deps.push_back(rows->getColumn(0).getInt64());
    return deps;
  });
}

Status Store::SetJobState(std::int64_t job_id, JobState state) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set job state"));
  return Guarded(*impl_, "set job state", [&]() -> Status {
    auto update = impl_->Prepare("UPDATE jobs SET state = ?, updated_at = ? WHERE id = ?");
    update->bind(1, Name(state));
    update->bind(2, static_cast<int64_t>(impl_->NowMs()));
    update->bind(3, static_cast<int64_t>(job_id));
    if (update->exec() == 0) return impl_->NotFoundError("job " + std::to_string(job_id));
    return Status::Ok();
  });
}

Status Store::SetJobError(std::int64_t job_id, const std::string& error) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set job error"));
  return Guarded(*impl_, "set job error", [&]() -> Status {
    auto update = impl_->Prepare("UPDATE jobs SET last_error = ?, updated_at = ? WHERE id = ?");
    update->bind(1, error);
    update->bind(2, static_cast<int64_t>(impl_->NowMs()));
    update->bind(3, static_cast<int64_t>(job_id));
    if (update->exec() == 0) return impl_->NotFoundError("job " + std::to_string(job_id));
    return Status::Ok();
  });
}

}  // namespace farm::store
