// Store methods for leases (attempts): start, fenced finish, history.
#include <string>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

constexpr char kAttemptColumns[] =
    "SELECT id, job_id, attempt, agent_id, leased_at, deadline, finished_at, outcome, error, "
    "metrics_json, counted FROM attempts";

Attempt ReadAttempt(SQLite::Statement& row) {
  Attempt attempt;
  attempt.id = row.getColumn(0).getInt64();
  attempt.job_id = row.getColumn(1).getInt64();
  attempt.attempt = row.getColumn(2).getInt();
  attempt.agent_id = row.getColumn(3).getString();
  attempt.leased_at_ms = row.getColumn(4).getInt64();
  attempt.deadline_ms = row.getColumn(5).getInt64();
  attempt.finished_at_ms = OptionalInt64(row.getColumn(6));
  if (!row.getColumn(7).isNull()) {
    attempt.outcome = ValueOrCorrupt(ParseAttemptOutcome(row.getColumn(7).getText()),
                                     "attempt " + std::to_string(attempt.id));
  }
  attempt.error = TextOrEmpty(row.getColumn(8));
  attempt.metrics_json = TextOrEmpty(row.getColumn(9));
  attempt.counted = row.getColumn(10).getInt() != 0;
  return attempt;
}

}  // namespace

StatusOr<Attempt> Store::StartAttempt(std::int64_t job_id, const std::string& agent_id,
                                      std::int64_t deadline_ms) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("start attempt"));
  const std::string what = "start attempt of job " + std::to_string(job_id);
  return Guarded(*impl_, what, [&]() -> StatusOr<Attempt> {
    WriteScope scope(*impl_);
    Attempt attempt;
    {
      auto job = impl_->Prepare("SELECT state, attempt_count FROM jobs WHERE id = ?");
      job->bind(1, static_cast<int64_t>(job_id));
      if (!job->executeStep()) return impl_->NotFoundError("job " + std::to_string(job_id));
      const std::string state = job->getColumn(0).getString();
      if (state != Name(JobState::kQueued)) {
        return FailedPrecondition(impl_->path() + ": " + what + ": the job is " + state +
                                  ", not queued");
      }
      attempt.attempt = job->getColumn(1).getInt() + 1;
    }
    {
      auto agent = impl_->Prepare("SELECT 1 FROM agents WHERE id = ?");
      agent->bind(1, agent_id);
      if (!agent->executeStep()) return impl_->NotFoundError("agent '" + agent_id + "'");
    }
    attempt.job_id = job_id;
    attempt.agent_id = agent_id;
    attempt.leased_at_ms = impl_->NowMs();
    attempt.deadline_ms = deadline_ms;
    {
      auto update = impl_->Prepare(
          "UPDATE jobs SET state = 'leased', attempt_count = ?, updated_at = ? WHERE id = ?");
      update->bind(1, attempt.attempt);
      update->bind(2, static_cast<int64_t>(attempt.leased_at_ms));
      update->bind(3, static_cast<int64_t>(job_id));
      update->exec();
    }
    {
      auto insert = impl_->Prepare(
          "INSERT INTO attempts (job_id, attempt, agent_id, leased_at, deadline) "
          "VALUES (?, ?, ?, ?, ?)");
      insert->bind(1, static_cast<int64_t>(job_id));
      insert->bind(2, attempt.attempt);
      insert->bind(3, agent_id);
      insert->bind(4, static_cast<int64_t>(attempt.leased_at_ms));
      insert->bind(5, static_cast<int64_t>(deadline_ms));
      insert->exec();
      attempt.id = impl_->db().getLastInsertRowid();
    }
    scope.Commit();
    return attempt;
  });
}

Status Store::FinishAttempt(std::int64_t job_id, int attempt, AttemptOutcome outcome,
                            const std::string& error, JobState next_state, bool counted) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("finish attempt"));
  const std::string what =
      "finish attempt " + std::to_string(attempt) + " of job " + std::to_string(job_id);
  return Guarded(*impl_, what, [&]() -> Status {
    WriteScope scope(*impl_);
    {
      auto lease = impl_->Prepare(
          "SELECT a.outcome IS NULL, j.attempt_count FROM attempts a "
          "JOIN jobs j ON j.id = a.job_id WHERE a.job_id = ? AND a.attempt = ?");
      lease->bind(1, static_cast<int64_t>(job_id));
      lease->bind(2, attempt);
      if (!lease->executeStep()) {
        return impl_->NotFoundError("attempt " + std::to_string(attempt) + " of job " +
                                    std::to_string(job_id));
      }
      const bool open = lease->getColumn(0).getInt() != 0;
      const int newest = lease->getColumn(1).getInt();
      if (!open || attempt != newest) {
        return FailedPrecondition(impl_->path() + ": " + what + ": stale lease (" +
                                  (open ? "superseded by attempt " + std::to_string(newest)
                                        : std::string("already finished")) +
                                  "); result ignored");
      }
    }
    const std::int64_t now = impl_->NowMs();
    {
      auto close = impl_->Prepare(
          "UPDATE attempts SET outcome = ?, finished_at = ?, error = ?, counted = ? "
          "WHERE job_id = ? AND attempt = ?");
      close->bind(1, Name(outcome));
      close->bind(2, static_cast<int64_t>(now));
      BindTextOrNull(*close, 3, error);
      close->bind(4, counted ? 1 : 0);
      close->bind(5, static_cast<int64_t>(job_id));
      close->bind(6, attempt);
      close->exec();
    }
    {
      auto update = impl_->Prepare(
          "UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), updated_at = ? "
          "WHERE id = ?");
      update->bind(1, Name(next_state));
      BindTextOrNull(*update, 2, error);
      update->bind(3, static_cast<int64_t>(now));
      update->bind(4, static_cast<int64_t>(job_id));
      update->exec();
    }
    scope.Commit();
    return Status::Ok();
  });
}

Status Store::SetAttemptMetrics(std::int64_t job_id, int attempt, const std::string& metrics_json) {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("set attempt metrics"));
  return Guarded(*impl_, "set attempt metrics", [&]() -> Status {
    auto update = impl_->Prepare("UPDATE attempts SET metrics_json = ? WHERE job_id = ? AND attempt = ?");
    update->bind(1, metrics_json);
    update->bind(2, static_cast<int64_t>(job_id));
    update->bind(3, attempt);
    if (update->exec() == 0) {
      return impl_->NotFoundError("attempt " + std::to_string(attempt) + " of job " + std::to_string(job_id));
    }
    return Status::Ok();
  });
}

StatusOr<std::vector<Attempt>> Store::ListAttempts(std::int64_t job_id) {
  return Guarded(*impl_, "list attempts", [&]() -> StatusOr<std::vector<Attempt>> {
    auto rows = impl_->Prepare(std::string(kAttemptColumns) + " WHERE job_id = ? ORDER BY attempt");
    rows->bind(1, static_cast<int64_t>(job_id));
    std::vector<Attempt> attempts;
    while (rows->executeStep()) attempts.push_back(ReadAttempt(*rows));
    return attempts;
  });
}

StatusOr<std::vector<Attempt>> Store::ListOpenAttempts() {
  return Guarded(*impl_, "list open attempts", [&]() -> StatusOr<std::vector<Attempt>> {
    auto rows = impl_->Prepare(std::string(kAttemptColumns) +
                               " WHERE outcome IS NULL ORDER BY deadline, id");
    std::vector<Attempt> attempts;
    while (rows->executeStep()) attempts.push_back(ReadAttempt(*rows));
    return attempts;
  });
}

StatusOr<std::int64_t> Store::CountAttempts(AttemptOutcome outcome) {
  return Guarded(*impl_, "count attempts", [&]() -> StatusOr<std::int64_t> {
    auto rows = impl_->Prepare("SELECT count(*) FROM attempts WHERE outcome = ?");
    rows->bind(1, Name(outcome));
    rows->executeStep();
    return rows->getColumn(0).getInt64();
  });
}

}  // namespace farm::store
