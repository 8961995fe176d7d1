#include "store_impl.h"

#include <SQLiteCpp/Column.h>
#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace farm::store {

StoreImpl::StoreImpl(std::string path, bool read_only, StoreOptions options,
                     std::unique_ptr<SQLite::Database> db)
    : path_(std::move(path)),
      read_only_(read_only),
      options_(std::move(options)),
      db_(std::move(db)) {}

StoreImpl::~StoreImpl() { checkpointer_.reset(); }

void StoreImpl::StartBackgroundCheckpoints() {
  if (read_only_ || checkpointer_) return;
  checkpointer_ =
      WalCheckpointer::Start(path_, db_->getHandle(), std::max(1, options_.wal_checkpoint_pages));
}

WalCheckpointStats StoreImpl::wal_checkpoints() const {
  WalCheckpointStats stats;
  if (!checkpointer_) return stats;
  const CheckpointCounts counts = checkpointer_->counts();
  stats.background = true;
  stats.background_runs = counts.background;
  stats.inline_runs = counts.inline_runs;
  stats.failures = counts.failures;
  if (counts.last_error != SQLITE_OK) stats.last_error = sqlite3_errstr(counts.last_error);
  return stats;
}

std::int64_t StoreImpl::NowMs() const {
  if (options_.clock_ms) return options_.clock_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StoreImpl::StatementLease::~StatementLease() {
  if (statement_ == nullptr) return;
  statement_->tryReset();
  *busy_ = false;
}

StoreImpl::StatementLease StoreImpl::Prepare(const std::string& sql) {
  CachedStatement& cached = statements_[sql];
  if (cached.busy) throw std::logic_error("statement already in use: " + sql);
  if (!cached.statement) {
    cached.statement = std::make_unique<SQLite::Statement>(*db_, sql);
  } else {
    cached.statement->tryReset();
    cached.statement->clearBindings();
  }
  cached.busy = true;
  return StatementLease(cached.statement.get(), &cached.busy);
}

Status StoreImpl::CheckWritable(std::string_view operation) const {
  if (!read_only_) return Status::Ok();
  return FailedPrecondition(path_ + ": " + std::string(operation) +
                            ": the database was opened read-only");
}

Status StoreImpl::NotFoundError(std::string_view what) const {
  return NotFound(path_ + ": " + std::string(what) + " not found");
}

Status StoreImpl::ErrorFrom(const std::exception& error, std::string_view operation) const {
  const int last_errno = errno;  // of the failed call (Guarded cleared it before)
  Status status = ErrorFromException(path_, error, operation);
  // "disk I/O error" alone does not say why: name SQLite's extended code and the OS error
  // behind it (EFBIG under a file-size limit, ENOSPC, EIO) so a failed commit can be acted on.
  const auto* sqlite_error = dynamic_cast<const SQLite::Exception*>(&error);
  if (sqlite_error == nullptr || db_ == nullptr) return status;
  const int code = sqlite_error->getErrorCode() & 0xff;
  if (code != SQLITE_IOERR && code != SQLITE_FULL) return status;
  std::string detail = " [SQLite code " + std::to_string(sqlite_error->getExtendedErrorCode());
  // A failed COMMIT leaves sqlite3_system_errno at 0; errno still holds why the write
  // of the log failed (EFBIG, ENOSPC, EIO).
  int os_error = sqlite3_system_errno(db_->getHandle());
  if (os_error == 0) os_error = last_errno;
  if (os_error != 0) {
    detail += ", OS error " + std::to_string(os_error) + ": " + std::strerror(os_error);
  }
  return Status(status.code(), status.message() + detail + "]");
}

Status ErrorFromException(const std::string& path, const std::exception& error,
                          std::string_view operation) {
  std::string message = path + ": " + std::string(operation) + ": " + error.what();
  if (dynamic_cast<const CorruptRow*>(&error) != nullptr) {
    return DataLoss(message + " (the database holds a value this binary cannot read)");
  }
  const auto* sqlite_error = dynamic_cast<const SQLite::Exception*>(&error);
  if (sqlite_error == nullptr || sqlite_error->getErrorCode() < 0) {
    // SQLiteCpp's own checks (bad column index, ...) and logic errors are our bugs.
    return Internal(std::move(message));
  }
  const int extended = sqlite_error->getExtendedErrorCode();
  switch (sqlite_error->getErrorCode() & 0xff) {
    case SQLITE_CONSTRAINT:
      if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return AlreadyExists(std::move(message));
      }
      return InvalidArgument(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(message + " (another connection holds the lock)");
    case SQLITE_CORRUPT:
      return DataLoss(message + " (the database file is corrupt or truncated)");
    case SQLITE_NOTADB:
      return InvalidArgument(message + " (expected a SQLite database file)");
    case SQLITE_READONLY:
      return FailedPrecondition(std::move(message));
    case SQLITE_CANTOPEN:
      return Unavailable(std::move(message));
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return Unavailable(message + " (I/O error or disk full)");
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return InvalidArgument(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

WriteScope::WriteScope(StoreImpl& impl) : impl_(impl) {
  impl_.db().exec(impl_.transaction_depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT farm_write");
  ++impl_.transaction_depth;
}

void WriteScope::Commit() {
  impl_.db().exec(impl_.transaction_depth == 1 ? "COMMIT" : "RELEASE farm_write");
  open_ = false;
  --impl_.transaction_depth;
}

WriteScope::~WriteScope() {
  if (!open_) return;
  // Rollback failures cannot be reported from a destructor; SQLite rolls back on close.
  if (impl_.transaction_depth == 1) {
    sqlite3_exec(impl_.db().getHandle(), "ROLLBACK", nullptr, nullptr, nullptr);
  } else {
    sqlite3_exec(impl_.db().getHandle(), "ROLLBACK TO farm_write; RELEASE farm_write", nullptr,
                 nullptr, nullptr);
  }
  --impl_.transaction_depth;
}

ReadScope::ReadScope(StoreImpl& impl) : impl_(impl) {
  if (impl_.transaction_depth > 0) return;
  impl_.db().exec("BEGIN");
  began_ = true;
  ++impl_.transaction_depth;
}

ReadScope::~ReadScope() {
  if (!began_) return;
  sqlite3_exec(impl_.db().getHandle(), "COMMIT", nullptr, nullptr, nullptr);
  --impl_.transaction_depth;
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void BindIdOrNull(SQLite::Statement& statement, int index, std::int64_t id) {
  if (id == 0) {
    statement.bind(index);
  } else {
    statement.bind(index, static_cast<int64_t>(id));
  }
}

void BindTextOrNull(SQLite::Statement& statement, int index, const std::string& text) {
  if (text.empty()) {
    statement.bind(index);
  } else {
    statement.bind(index, text);
  }
}

std::optional<std::int64_t> OptionalInt64(const SQLite::Column& column) {
  if (column.isNull()) return std::nullopt;
  return column.getInt64();
}

std::optional<double> OptionalDouble(const SQLite::Column& column) {
  if (column.isNull()) return std::nullopt;
  return column.getDouble();
}

std::string TextOrEmpty(const SQLite::Column& column) {
  if (column.isNull()) return {};
  return column.getString();
}

}  // namespace farm::store
