// Private to farm_store: the SQLite connection behind Store, its statement cache,
// transaction scopes and the exception-to-Status boundary.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cerrno>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "farm/schemas/status.h"
#include "farm/store/store.h"
#include "wal_checkpointer.h"

namespace farm::store {

class StoreImpl {
 public:
  StoreImpl(std::string path, bool read_only, StoreOptions options,
            std::unique_ptr<SQLite::Database> db);
  ~StoreImpl();

  // Moves the write-ahead log's checkpoints to a thread (read-write stores). Without it,
  // or when its connection cannot open, SQLite checkpoints inside commits as usual.
  void StartBackgroundCheckpoints();
  WalCheckpointStats wal_checkpoints() const;

  SQLite::Database& db() { return *db_; }
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  const StoreOptions& options() const { return options_; }
  std::int64_t NowMs() const;

  // A cached prepared statement, unbound and reset. Reset again when the lease ends so
  // no statement keeps a read snapshot open. Throws std::logic_error if the same SQL is
  // already leased (a re-entrancy bug).
  class StatementLease {
   public:
    StatementLease(SQLite::Statement* statement, bool* busy) : statement_(statement), busy_(busy) {}
    StatementLease(StatementLease&& other) noexcept
        : statement_(std::exchange(other.statement_, nullptr)), busy_(other.busy_) {}
    StatementLease(const StatementLease&) = delete;
    ~StatementLease();
    SQLite::Statement* operator->() { return statement_; }
    SQLite::Statement& operator*() { return *statement_; }

   private:
    SQLite::Statement* statement_;
    bool* busy_;
  };
  StatementLease Prepare(const std::string& sql);

  // FailedPrecondition naming the operation when the store was opened read-only.
  Status CheckWritable(std::string_view operation) const;
  // "<path>: <operation>: <sqlite message>" with a code chosen from SQLite's error code.
  Status ErrorFrom(const std::exception& error, std::string_view operation) const;
  Status NotFoundError(std::string_view what) const;

  int transaction_depth = 0;      // 0: autocommit; 1: BEGIN; >1: nested savepoints
  bool user_transaction = false;  // a WriteTransaction is open
  MigrateResult migration_at_open;

 private:
  struct CachedStatement {
    std::unique_ptr<SQLite::Statement> statement;
    bool busy = false;
  };
  std::string path_;
  bool read_only_;
  StoreOptions options_;
  std::unique_ptr<SQLite::Database> db_;
  std::unordered_map<std::string, CachedStatement> statements_;
  // Stopped before db_ closes, so that the writer is the last connection and its close
  // checkpoints and removes the log.
  std::unique_ptr<WalCheckpointer> checkpointer_;
};

// Write scope: BEGIN IMMEDIATE at depth 0, a SAVEPOINT inside an open transaction. Rolls
// back unless Commit() ran. Constructor and Commit throw SQLite::Exception.
class WriteScope {
 public:
  explicit WriteScope(StoreImpl& impl);
  WriteScope(const WriteScope&) = delete;
  ~WriteScope();
  void Commit();

 private:
  StoreImpl& impl_;
  bool open_ = true;
};

// Read scope: a deferred BEGIN at depth 0, so several SELECTs see one snapshot; nothing
// inside an open transaction.
class ReadScope {
 public:
  explicit ReadScope(StoreImpl& impl);
  ReadScope(const ReadScope&) = delete;
  ~ReadScope();

 private:
  StoreImpl& impl_;
  bool began_ = false;
};

// "<path>: <operation>: <message>" with a code chosen from SQLite's error code; Internal
// for exceptions that are not SQLite's (bugs on our side).
Status ErrorFromException(const std::string& path, const std::exception& error,
                          std::string_view operation);

// Thrown by row readers for a value the schema should have prevented (an unknown enum
// name, a malformed params_json); ErrorFromException turns it into DataLoss.
class CorruptRow : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The value of `parsed`, or throws CorruptRow with `context` and the parse error.
template <typename T>
T ValueOrCorrupt(StatusOr<T> parsed, const std::string& context) {
  if (!parsed.ok()) throw CorruptRow(context + ": " + parsed.status().message());
  return std::move(parsed).value();
}

// Runs `fn` (returning Status or StatusOr<T>) and converts any exception into a Status.
// errno is cleared first: a failed COMMIT does not record the OS error in SQLite
// (sqlite3_system_errno stays 0), so ErrorFrom reads the one this call left.
template <typename Fn>
auto Guarded(const StoreImpl& impl, std::string_view operation, Fn&& fn) -> decltype(fn()) {
  try {
    errno = 0;
    return fn();
  } catch (const std::exception& error) {
    return impl.ErrorFrom(error, operation);
  }
}

// True for 64 lower-case hex digits (the form of every digest the farm stores).
bool IsSha256Hex(std::string_view text);

// Binding and reading helpers for nullable columns. 0 ids and empty strings map to NULL
// where the column is nullable.
void BindIdOrNull(SQLite::Statement& statement, int index, std::int64_t id);
void BindTextOrNull(SQLite::Statement& statement, int index, const std::string& text);
std::optional<std::int64_t> OptionalInt64(const SQLite::Column& column);
std::optional<double> OptionalDouble(const SQLite::Column& column);
std::string TextOrEmpty(const SQLite::Column& column);

}  // namespace farm::store
