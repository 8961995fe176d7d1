#include "farm_db_util.h"

namespace farm_faults {
namespace {

// Statement with automatic finalize.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

farm::Status Prepare(sqlite3* db, const std::string& sql, Statement* out) {
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &out->stmt, nullptr) != SQLITE_OK) {
    return farm::Internal(std::string("prepare '") + sql + "': " + sqlite3_errmsg(db));
  }
  return farm::Status::Ok();
}

farm::Status StepError(sqlite3* db, const std::string& sql) {
  return farm::Unavailable(std::string("step '") + sql + "': " + sqlite3_errmsg(db));
}

}  // namespace

farm::StatusOr<std::unique_ptr<FarmDb>> FarmDb::OpenReadOnly(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return farm::Unavailable("open '" + path + "' read-only: " + message);
  }
  // farmd writes meanwhile (WAL): wait for its write lock instead of failing.
  sqlite3_busy_timeout(db, 10000);
  return std::unique_ptr<FarmDb>(new FarmDb(db));
}

FarmDb::~FarmDb() { sqlite3_close(db_); }

farm::StatusOr<std::int64_t> FarmDb::Count(const std::string& sql) const {
  Statement s;
  FARM_RETURN_IF_ERROR(Prepare(db_, sql, &s));
  const int rc = sqlite3_step(s.stmt);
  if (rc == SQLITE_DONE) return farm::NotFound("no row from '" + sql + "'");
  if (rc != SQLITE_ROW) return StepError(db_, sql);
  return sqlite3_column_int64(s.stmt, 0);
}

farm::StatusOr<std::set<std::int64_t>> FarmDb::Ids(const std::string& sql) const {
  Statement s;
  FARM_RETURN_IF_ERROR(Prepare(db_, sql, &s));
  std::set<std::int64_t> out;
  int rc;
  while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) out.insert(sqlite3_column_int64(s.stmt, 0));
  if (rc != SQLITE_DONE) return StepError(db_, sql);
  return out;
}

farm::StatusOr<std::set<std::string>> FarmDb::Texts(const std::string& sql) const {
  Statement s;
  FARM_RETURN_IF_ERROR(Prepare(db_, sql, &s));
  std::set<std::string> out;
  int rc;
  while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(s.stmt, 0);
    out.insert(text ? reinterpret_cast<const char*>(text) : "");
  }
  if (rc != SQLITE_DONE) return StepError(db_, sql);
  return out;
}

farm::StatusOr<std::vector<std::vector<std::string>>> FarmDb::Rows(const std::string& sql) const {
  Statement s;
  FARM_RETURN_IF_ERROR(Prepare(db_, sql, &s));
  std::vector<std::vector<std::string>> out;
  int rc;
  while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
    std::vector<std::string>& row = out.emplace_back();
    for (int i = 0; i < sqlite3_column_count(s.stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(s.stmt, i);
      row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
  }
  if (rc != SQLITE_DONE) return StepError(db_, sql);
  return out;
}

farm::StatusOr<std::set<std::int64_t>> FarmDb::SucceededJobs(std::int64_t sweep_id) const {
  return Ids("SELECT id FROM jobs WHERE state = 'succeeded' AND sweep_id = " +
             std::to_string(sweep_id));
}

std::string LedgerProblems::ToString() const {
  return std::to_string(jobs) + " jobs; not succeeded " + std::to_string(not_succeeded) +
         ", without exactly one succeeded attempt " + std::to_string(success_count_not_one) +
         ", attempt counts inconsistent " + std::to_string(attempts_inconsistent) +
         ", open attempts " + std::to_string(open_attempts) + ", success not the last attempt " +
         std::to_string(success_not_last);
}

farm::StatusOr<LedgerProblems> CheckLedger(const std::string& database, std::int64_t sweep_id) {
  FARM_ASSIGN_OR_RETURN(std::unique_ptr<FarmDb> db, FarmDb::OpenReadOnly(database));
  const std::string jobs = "FROM jobs j WHERE j.sweep_id = " + std::to_string(sweep_id);
  LedgerProblems p;
  FARM_ASSIGN_OR_RETURN(p.jobs, db->Count("SELECT count(*) " + jobs));
  FARM_ASSIGN_OR_RETURN(p.not_succeeded,
                        db->Count("SELECT count(*) " + jobs + " AND j.state <> 'succeeded'"));
  FARM_ASSIGN_OR_RETURN(
      p.success_count_not_one,
      db->Count("SELECT count(*) " + jobs +
                " AND (SELECT count(*) FROM attempts a WHERE a.job_id = j.id"
                " AND a.outcome = 'succeeded') <> 1"));
  // attempt_count is the newest attempt's number; attempts are numbered 1..attempt_count.
  FARM_ASSIGN_OR_RETURN(
      p.attempts_inconsistent,
      db->Count("SELECT count(*) " + jobs +
                " AND (j.attempt_count <> (SELECT count(*) FROM attempts a WHERE a.job_id = j.id)"
                " OR j.attempt_count <> (SELECT coalesce(max(attempt), 0) FROM attempts a"
                " WHERE a.job_id = j.id))"));
  FARM_ASSIGN_OR_RETURN(p.open_attempts,
                        db->Count("SELECT count(*) FROM attempts a JOIN jobs j ON a.job_id = j.id"
                                  " WHERE j.sweep_id = " +
                                  std::to_string(sweep_id) + " AND a.outcome IS NULL"));
  FARM_ASSIGN_OR_RETURN(
      p.success_not_last,
      db->Count("SELECT count(*) FROM attempts a JOIN jobs j ON a.job_id = j.id"
                " WHERE j.sweep_id = " +
                std::to_string(sweep_id) +
                " AND a.outcome = 'succeeded' AND a.attempt <> j.attempt_count"));
  return p;
}

}  // namespace farm_faults
