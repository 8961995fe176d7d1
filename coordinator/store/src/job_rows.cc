#include "job_rows.h"

namespace farm::store {
namespace {

// An existing render with what decides whether a new request can share it.
struct ExistingRender {
  std::int64_t id = 0;
  std::optional<std::int64_t> job_id;
  bool rendered = false;
  bool job_live = false;  // its job is queued, leased or succeeded
};

std::optional<ExistingRender> FindRender(StoreImpl& impl, const std::string& param_hash) {
  auto find = impl.Prepare(
      "SELECT r.id, r.job_id, r.artifact_id IS NOT NULL, "
      "       j.state IN ('queued', 'leased', 'succeeded') "
      "FROM renders r LEFT JOIN jobs j ON j.id = r.job_id WHERE r.param_hash = ?");
  find->bindNoCopy(1, param_hash);
  if (!find->executeStep()) return std::nullopt;
  ExistingRender existing;
  existing.id = find->getColumn(0).getInt64();
  existing.job_id = OptionalInt64(find->getColumn(1));
  existing.rendered = find->getColumn(2).getInt() != 0;
  existing.job_live = !find->getColumn(3).isNull() && find->getColumn(3).getInt() != 0;
  return existing;
}

std::int64_t InsertJobRow(StoreImpl& impl, std::int64_t sweep_id, JobKind kind,
                          const std::string& param_hash, const std::string& params_json,
                          int priority, std::int64_t now_ms) {
  auto insert = impl.Prepare(
      "INSERT INTO jobs (sweep_id, kind, param_hash, params_json, state, priority, "
      "created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)");
  insert->bind(1, static_cast<int64_t>(sweep_id));
  insert->bindNoCopy(2, Name(kind));
  insert->bindNoCopy(3, param_hash);
  insert->bindNoCopy(4, params_json);
  insert->bind(5, priority);
  insert->bind(6, static_cast<int64_t>(now_ms));
  insert->bind(7, static_cast<int64_t>(now_ms));
  insert->exec();
  return impl.db().getLastInsertRowid();
}

void InsertDep(StoreImpl& impl, std::int64_t job_id, std::int64_t depends_on_job_id) {
  auto insert = impl.Prepare(
      "INSERT INTO job_deps (job_id, depends_on_job_id) VALUES (?, ?) ON CONFLICT DO NOTHING");
  insert->bind(1, static_cast<int64_t>(job_id));
  insert->bind(2, static_cast<int64_t>(depends_on_job_id));
  insert->exec();
}

}  // namespace

StatusOr<std::vector<std::optional<CanonicalRender>>> PrepareJobs(const std::string& path,
                                                                  const std::vector<NewJob>& jobs) {
  std::vector<std::optional<CanonicalRender>> canonical(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const NewJob& job = jobs[i];
    const std::string where = path + ": job #" + std::to_string(i) + " (" + Name(job.kind) + ")";
    for (std::size_t dep : job.deps) {
      if (dep >= i) {
        return InvalidArgument(where + ": dependency index " + std::to_string(dep) +
                               " does not name an earlier job");
      }
    }
    if (job.kind == JobKind::kRender) {
      if (!job.render) return InvalidArgument(where + ": a render job needs its RenderParams");
      auto record = Canonicalize(*job.render, job.params_json, job.param_hash);
      if (!record.ok()) return record.status().WithContext(where);
      canonical[i] = std::move(record).value();
      continue;
    }
    if (job.render) return InvalidArgument(where + ": only render jobs carry RenderParams");
    if (job.params_json.empty()) return InvalidArgument(where + ": empty params_json");
    if (!IsSha256Hex(job.param_hash)) {
      return InvalidArgument(where + ": param_hash '" + job.param_hash +
                             "' is not 64 lower-case hex digits");
    }
  }
  return canonical;
}

InsertedJobs WriteJobs(StoreImpl& impl, std::int64_t sweep_id, const std::vector<NewJob>& jobs,
                       const std::vector<std::optional<CanonicalRender>>& canonical) {
  const std::int64_t now = impl.NowMs();
  InsertedJobs result;
  RenderWriter renders(impl);
  result.job_ids.assign(jobs.size(), 0);
  result.render_ids.assign(jobs.size(), 0);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const NewJob& job = jobs[i];
    std::int64_t job_id = 0;
    if (job.kind == JobKind::kRender) {
      const CanonicalRender& record = *canonical[i];
      const std::optional<ExistingRender> existing = FindRender(impl, record.param_hash());
      if (existing && (existing->rendered || existing->job_live) && !job.rerender) {
        // Done or on its way: share it, no second job (the farm renders a record once).
        result.job_ids[i] = existing->job_id.value_or(0);
        result.render_ids[i] = existing->id;
        ++result.renders_shared;
        renders.LinkToSweep(sweep_id, existing->id, now);
        continue;
      }
      job_id = InsertJobRow(impl, sweep_id, job.kind, record.param_hash(), record.params_json(),
                            job.priority, now);
      bool created = false;
      if (existing) {
        // Its earlier job failed or was cancelled, or the sweep asked to render it again:
        // this job renders it (again). Earlier sweeps keep their results.
        auto update = impl.Prepare("UPDATE renders SET job_id = ? WHERE id = ?");
        update->bind(1, static_cast<int64_t>(job_id));
        update->bind(2, static_cast<int64_t>(existing->id));
        update->exec();
        result.render_ids[i] = existing->id;
      } else {
        const RenderInsert inserted = renders.Upsert(*job.render, record, job_id, now);
        result.render_ids[i] = inserted.id;
        created = inserted.created;
        ++result.renders_created;
      }
      if (created) {
        renders.LinkNewToSweep(sweep_id, result.render_ids[i], job_id, now);
      } else {
        renders.LinkToSweep(sweep_id, result.render_ids[i], now);
      }
    } else {
      job_id = InsertJobRow(impl, sweep_id, job.kind, job.param_hash, job.params_json, job.priority,
                            now);
    }
    result.job_ids[i] = job_id;
    ++result.jobs_created;
    for (std::size_t dep : job.deps) {
      // A shared render without a producing job is already done: nothing to wait for.
      if (result.job_ids[dep] != 0) InsertDep(impl, job_id, result.job_ids[dep]);
    }
  }
  return result;
}

}  // namespace farm::store
