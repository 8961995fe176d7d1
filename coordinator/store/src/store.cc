// Opening, migrating and describing the database; write transactions.
#include "farm/store/store.h"

#include <SQLiteCpp/Database.h>
#include <sqlite3.h>

#include <mutex>

#include "farm/schemas/migrations.h"
#include "file_checks.h"
#include "schema_version.h"
#include "store_impl.h"

namespace farm::store {
namespace {

// Main tables in the order `farmctl db info` lists them.
constexpr const char* kTables[] = {
    "sweeps",         "jobs",      "job_deps",     "attempts",        "renders", "render_settings",
    "render_results", "artifacts", "identities",   "identity_photos", "loras",   "lora_checkpoints",
    "scores",         "agents",    "job_artifacts"};

constexpr int kPageSize = 16384;

std::string PragmaText(SQLite::Database& db, const char* pragma) {
  SQLite::Statement statement(db, std::string("PRAGMA ") + pragma);
  statement.executeStep();
  return statement.getColumn(0).getString();
}

// Connection settings. Read-write: WAL so readers never block the writer (and vice
// versa), synchronous=NORMAL so a commit costs no fsync (the WAL is synced at
// checkpoints), foreign keys enforced. Read-only: query_only as a second guard.
Status Configure(StoreImpl& impl, int cache_size_kib) {
  SQLite::Database& db = impl.db();
  db.exec("PRAGMA foreign_keys = ON");
  if (impl.read_only()) {
    db.exec("PRAGMA query_only = ON");
    // Whole-sweep reads (farmctl effects, compare, report) touch every page of renders;
    // mapped pages skip a pread copy each (a quarter of `effects` over 100k renders).
    db.exec("PRAGMA mmap_size = 1073741824");
    return Status::Ok();
  }
  if (std::stoll(PragmaText(db, "page_count")) == 0) {
    // A new file: 16 KiB pages mean a quarter of the WAL frames (and write calls) of
    // the default for bulk inserts of ~2 KiB render rows (docs/BENCHMARKS.md). Fixed
    // once the first table exists.
    db.exec("PRAGMA page_size = " + std::to_string(kPageSize));
  }
  const std::string mode = PragmaText(db, "journal_mode = WAL");
  if (mode != "wal") {
    return FailedPrecondition(impl.path() + ": cannot switch the database to WAL mode (got '" +
                              mode + "'); is it on a network file system?");
  }
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA temp_store = MEMORY");
  db.exec("PRAGMA cache_size = -" + std::to_string(cache_size_kib));
  return Status::Ok();
}

// SQLite keeps allocation statistics behind a global mutex on every malloc and free
// (~20% of a bulk insert here); the farm never reads them. Only possible before SQLite
// initialises; later calls fail harmlessly (SQLITE_MISUSE), so the result is ignored.
void DisableSqliteMemoryStatistics() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

StatusOr<std::unique_ptr<StoreImpl>> OpenImpl(const std::string& path, OpenMode mode,
                                              StoreOptions options) {
  const bool read_only = mode == OpenMode::kReadOnly;
  DisableSqliteMemoryStatistics();
  FARM_RETURN_IF_ERROR(CheckDatabaseFile(path, read_only, options.create_if_missing));
  // A Store is used from one thread at a time (store.h), so its connection needs none of
  // SQLite's per-call locking (SQLite's "multi-thread" mode; the checkpoint thread has a
  // connection of its own): a lock and unlock fewer on every API call.
  const int flags =
      SQLite::OPEN_NOMUTEX |
      (read_only ? SQLite::OPEN_READONLY : SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  const int cache_size_kib = options.cache_size_kib;
  auto db = std::make_unique<SQLite::Database>(path, flags, options.busy_timeout_ms);
  auto impl = std::make_unique<StoreImpl>(path, read_only, std::move(options), std::move(db));
  FARM_RETURN_IF_ERROR(Configure(*impl, cache_size_kib));
  if (read_only) {
    FARM_ASSIGN_OR_RETURN(const int version, ReadSchemaVersion(*impl));
    FARM_RETURN_IF_ERROR(CheckSchemaVersion(*impl, version));
    impl->migration_at_open = {version, version, {}};
  } else {
    FARM_ASSIGN_OR_RETURN(impl->migration_at_open, ApplyMigrations(*impl));
    if (impl->options().background_checkpoints) impl->StartBackgroundCheckpoints();
  }
  return impl;
}

}  // namespace

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path, OpenMode mode,
                                             StoreOptions options) {
  try {
    FARM_ASSIGN_OR_RETURN(auto impl, OpenImpl(path, mode, std::move(options)));
    return std::unique_ptr<Store>(new Store(std::move(impl)));
  } catch (const std::exception& error) {
    return ErrorFromException(path, error, "open");
  }
}

Store::Store(std::unique_ptr<StoreImpl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::path() const { return impl_->path(); }
bool Store::read_only() const { return impl_->read_only(); }
const MigrateResult& Store::migration_at_open() const { return impl_->migration_at_open; }
WalCheckpointStats Store::wal_checkpoints() const { return impl_->wal_checkpoints(); }

StatusOr<MigrateResult> Store::Migrate() {
  return Guarded(*impl_, "migrate", [&]() { return ApplyMigrations(*impl_); });
}

StatusOr<StoreInfo> Store::Info() {
  return Guarded(*impl_, "info", [&]() -> StatusOr<StoreInfo> {
    ReadScope snapshot(*impl_);
    StoreInfo info;
    info.path = impl_->path();
    info.read_only = impl_->read_only();
    FARM_ASSIGN_OR_RETURN(info.schema_version, ReadSchemaVersion(*impl_));
    info.latest_schema_version = LatestSchemaVersion();
    info.journal_mode = PragmaText(impl_->db(), "journal_mode");
    info.page_count = std::stoll(PragmaText(impl_->db(), "page_count"));
    info.page_size = std::stoll(PragmaText(impl_->db(), "page_size"));
    for (const char* table : kTables) {
      if (!impl_->db().tableExists(table)) continue;
      auto count = impl_->Prepare(std::string("SELECT count(*) FROM ") + table);
      count->executeStep();
      info.row_counts.emplace_back(table, count->getColumn(0).getInt64());
    }
    return info;
  });
}

StatusOr<WriteTransaction> Store::BeginWrite() {
  FARM_RETURN_IF_ERROR(impl_->CheckWritable("begin write transaction"));
  if (impl_->user_transaction) {
    return FailedPrecondition(impl_->path() + ": a write transaction is already open");
  }
  return Guarded(*impl_, "begin write transaction", [&]() -> StatusOr<WriteTransaction> {
    impl_->db().exec("BEGIN IMMEDIATE");
    impl_->transaction_depth = 1;
    impl_->user_transaction = true;
    return WriteTransaction(impl_.get());
  });
}

WriteTransaction::WriteTransaction(WriteTransaction&& other) noexcept
    : impl_(std::exchange(other.impl_, nullptr)) {}

WriteTransaction::~WriteTransaction() {
  if (impl_ == nullptr) return;
  try {
    impl_->db().exec("ROLLBACK");
  } catch (const std::exception&) {
    // Nothing to report to from a destructor; SQLite rolls back on close anyway.
  }
  impl_->transaction_depth = 0;
  impl_->user_transaction = false;
}

Status WriteTransaction::Commit() {
  if (impl_ == nullptr) return FailedPrecondition("write transaction already finished");
  StoreImpl* impl = impl_;
  Status status = Guarded(*impl, "commit", [&]() {
    impl->db().exec("COMMIT");
    impl->transaction_depth = 0;
    impl->user_transaction = false;
    impl_ = nullptr;
    return Status::Ok();
  });
  // A failed COMMIT leaves the transaction open: roll it back so the store stays usable.
  if (!status.ok()) {
    WriteTransaction rollback(std::exchange(impl_, nullptr));
  }
  return status;
}

}  // namespace farm::store
