// BackupDatabase: sqlite3_backup_* from a read-only snapshot of the source into a new
// file, then the copy checked. Raw sqlite3 calls: SQLiteCpp has no step-wise backup with
// a source transaction held across steps.
#include "farm/store/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <thread>

#include "farm/schemas/migrations.h"
#include "file_checks.h"

namespace farm::store {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// One sqlite3 connection, closed on scope exit (statements are finalised before).
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  ~Connection() { Close(); }
  sqlite3** out() { return &db_; }
  sqlite3* get() const { return db_; }
  int Close() {
    const int rc = sqlite3_close(db_);
    db_ = nullptr;
    return rc;
  }

 private:
  sqlite3* db_ = nullptr;
};

bool IsBusy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

// "<path>: <operation>: <SQLite message> [SQLite code N, OS error E: text]" with a code a
// caller can act on; a full disk and a file-size limit are said in words.
// `os_error_seen` is errno right after the failing call: a backup step does not always
// leave its error (nor the OS error) on the connection.
Status SqliteError(const std::string& path, const std::string& operation, sqlite3* db, int rc,
                   int os_error_seen = 0) {
  const bool recorded = db != nullptr && sqlite3_extended_errcode(db) == rc;
  std::string message = path + ": " + operation + ": " +
                        (recorded ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) + " [SQLite code " +
                        std::to_string(rc);
  int os_error = db != nullptr ? sqlite3_system_errno(db) : 0;
  if (os_error == 0) os_error = os_error_seen;
  if (os_error != 0) {
    message += ", OS error " + std::to_string(os_error) + ": " + std::strerror(os_error);
  }
  message += "]";
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
      if ((rc & 0xff) == SQLITE_FULL || os_error == ENOSPC || os_error == EFBIG ||
          os_error == EDQUOT) {
        return Unavailable(message + " (disk full or file-size limit: free space and retry)");
      }
      return Unavailable(message + " (I/O error)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(message + " (another connection holds the lock)");
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Unavailable(message + " (cannot open or write the file)");
    case SQLITE_CORRUPT:
      return DataLoss(message + " (the database file is corrupt)");
    case SQLITE_NOTADB:
      return InvalidArgument(message + " (expected a SQLite database file)");
    default:
      return Internal(message);
  }
}

// The single integer or text value of `sql` (one row, one column).
StatusOr<std::string> QueryText(const std::string& path, sqlite3* db, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr);
  if (rc != SQLITE_OK) return SqliteError(path, sql, db, rc);
  rc = sqlite3_step(statement);
  std::string value;
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(statement, 0);
    value = text != nullptr ? reinterpret_cast<const char*>(text) : "";
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  }
  Status status = rc == SQLITE_OK ? Status::Ok() : SqliteError(path, sql, db, rc);
  sqlite3_finalize(statement);
  if (!status.ok()) return status;
  return value;
}

Status Exec(const std::string& path, sqlite3* db, const std::string& sql) {
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(path, sql, db, rc);
}

// The schema version recorded in `db`; FailedPrecondition when it has no schema_version.
StatusOr<int> SchemaVersion(const std::string& path, sqlite3* db) {
  FARM_ASSIGN_OR_RETURN(
      const std::string tables,
      QueryText(path, db,
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                "name = 'schema_version'"));
  if (tables != "1") {
    return FailedPrecondition(path + ": not a StudioFarm database (no schema_version table)");
  }
  FARM_ASSIGN_OR_RETURN(const std::string version,
                        QueryText(path, db, "SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  return std::stoi(version);
}

Status OpenConnection(const std::string& path, int flags, int busy_timeout_ms,
                      Connection& connection, const std::string& what) {
  const int rc = sqlite3_open_v2(path.c_str(), connection.out(), flags, nullptr);
  if (rc != SQLITE_OK) return SqliteError(path, "open " + what, connection.get(), rc);
  sqlite3_extended_result_codes(connection.get(), 1);
  sqlite3_busy_timeout(connection.get(), busy_timeout_ms);
  return Status::Ok();
}

// Copies every page of the source snapshot, retrying steps that meet a lock.
Status CopyPages(const std::string& source, const std::string& destination, sqlite3* from,
                 sqlite3* to, const BackupOptions& options, BackupResult& result) {
  sqlite3_backup* backup = sqlite3_backup_init(to, "main", from, "main");
  if (backup == nullptr) {
    return SqliteError(destination, "start the backup", to, sqlite3_extended_errcode(to));
  }
  const int pages_per_step = options.pages_per_step > 0 ? options.pages_per_step : -1;
  Clock::time_point busy_since{};
  int rc = SQLITE_OK;
  int step_errno = 0;
  while (true) {
    errno = 0;
    rc = sqlite3_backup_step(backup, pages_per_step);
    step_errno = errno;
    ++result.steps;
    if (IsBusy(rc)) {
      const Clock::time_point now = Clock::now();
      if (busy_since == Clock::time_point{}) busy_since = now;
      if (now - busy_since > std::chrono::milliseconds(options.busy_timeout_ms)) break;
      ++result.busy_retries;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    busy_since = Clock::time_point{};
    if (rc != SQLITE_OK && rc != SQLITE_DONE) break;
    const int total = sqlite3_backup_pagecount(backup);
    result.page_count = total;
    if (options.progress) options.progress({total - sqlite3_backup_remaining(backup), total});
    if (rc == SQLITE_DONE) break;
  }
  // backup_finish returns the step's error again; read the message before it.
  Status status = Status::Ok();
  if (rc != SQLITE_DONE) {
    // A step's error is left on the destination connection, except a source read error.
    const bool from_source = (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
    status = IsBusy(rc) ? Unavailable(destination + ": copy pages: still locked after " +
                                      std::to_string(options.busy_timeout_ms) +
                                      " ms of retries [SQLite code " + std::to_string(rc) + "]")
                        : SqliteError(from_source ? source : destination,
                                      from_source ? "read pages" : "write the copy",
                                      from_source ? from : to, rc, step_errno);
  }
  const int finish = sqlite3_backup_finish(backup);
  if (status.ok() && finish != SQLITE_OK) {
    status = SqliteError(destination, "finish the backup", to, finish);
  }
  return status;
}

// The copy as a standalone file: rollback journal (no -wal/-shm needed beside it).
Status MakeStandalone(const std::string& destination, sqlite3* to) {
  FARM_ASSIGN_OR_RETURN(const std::string mode,
                        QueryText(destination, to, "PRAGMA journal_mode = DELETE"));
  if (mode != "delete") {
    return Internal(destination + ": cannot switch the copy to journal_mode=delete (got '" +
                    mode + "')");
  }
  return Status::Ok();
}

// Reopens the copy read-only and checks it: integrity_check "ok", the source's version.
Status CheckCopy(const std::string& destination, int expected_version, int busy_timeout_ms) {
  Connection copy;
  FARM_RETURN_IF_ERROR(
      OpenConnection(destination, SQLITE_OPEN_READONLY, busy_timeout_ms, copy, "the copy"));
  FARM_ASSIGN_OR_RETURN(const std::string integrity,
                        QueryText(destination, copy.get(), "PRAGMA integrity_check(20)"));
  if (integrity != "ok") {
    return DataLoss(destination + ": the copy failed PRAGMA integrity_check: " + integrity);
  }
  FARM_ASSIGN_OR_RETURN(const int version, SchemaVersion(destination, copy.get()));
  if (version != expected_version) {
    return DataLoss(destination + ": the copy has schema version " + std::to_string(version) +
                    ", the source snapshot had " + std::to_string(expected_version));
  }
  return Status::Ok();
}

Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unavailable(path + ": open to sync: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return Unavailable(path + ": fsync: " + std::strerror(error));
  return Status::Ok();
}

StatusOr<BackupResult> Backup(const std::string& source, const std::string& destination,
                              const BackupOptions& options) {
  BackupResult result;
  Connection from;
  FARM_RETURN_IF_ERROR(OpenConnection(source, SQLITE_OPEN_READONLY, options.busy_timeout_ms,
                                      from, "the database read-only"));
  // The read transaction pins one WAL snapshot for every step; a step that opened its
  // own would see farmd's newer commits and restart the copy from page 1.
  FARM_RETURN_IF_ERROR(Exec(source, from.get(), "BEGIN"));
  FARM_ASSIGN_OR_RETURN(result.schema_version, SchemaVersion(source, from.get()));
  if (result.schema_version > LatestSchemaVersion()) {
    return FailedPrecondition(source + ": database schema version " +
                              std::to_string(result.schema_version) +
                              " is newer than this binary supports (" +
                              std::to_string(LatestSchemaVersion()) + "); upgrade StudioFarm");
  }

  Connection to;
  FARM_RETURN_IF_ERROR(OpenConnection(destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                      options.busy_timeout_ms, to, "the copy for writing"));
  FARM_RETURN_IF_ERROR(CopyPages(source, destination, from.get(), to.get(), options, result));
  FARM_RETURN_IF_ERROR(Exec(source, from.get(), "COMMIT"));  // ends the snapshot
  from.Close();
  FARM_RETURN_IF_ERROR(MakeStandalone(destination, to.get()));
  FARM_ASSIGN_OR_RETURN(const std::string page_size,
                        QueryText(destination, to.get(), "PRAGMA page_size"));
  result.page_size = std::stoll(page_size);
  result.bytes = result.page_count * result.page_size;
  if (to.Close() != SQLITE_OK) {
    return Internal(destination + ": closing the copy failed (a statement left open)");
  }
  FARM_RETURN_IF_ERROR(SyncFile(destination));
  FARM_RETURN_IF_ERROR(CheckCopy(destination, result.schema_version, options.busy_timeout_ms));
  return result;
}

void RemoveCopy(const std::string& destination) {
  std::error_code ignored;
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
    fs::remove(destination + suffix, ignored);
  }
}

}  // namespace

StatusOr<BackupResult> BackupDatabase(const std::string& source, const std::string& destination,
                                      const BackupOptions& options) {
  FARM_RETURN_IF_ERROR(CheckDatabaseFile(source, /*read_only=*/true, /*create_if_missing=*/false));
  std::error_code error;
  if (fs::exists(fs::symlink_status(destination, error))) {
    return FailedPrecondition(destination + ": already exists; refusing to overwrite it");
  }
  auto result = Backup(source, destination, options);
  if (!result.ok()) RemoveCopy(destination);
  return result;
}

}  // namespace farm::store
