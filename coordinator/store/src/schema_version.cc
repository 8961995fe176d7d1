#include "schema_version.h"

#include <SQLiteCpp/Exception.h>

#include <cstdio>
#include <string>

#include "farm/schemas/migrations.h"

namespace farm::store {
namespace {

// Owned by the store, not by any migration file: migrations never touch it.
constexpr char kCreateSchemaVersion[] =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at INTEGER NOT NULL)";

std::string MigrationName(const Migration& migration) {
  char number[16];
  std::snprintf(number, sizeof(number), "%04d", migration.version);
  return std::string(number) + "_" + std::string(migration.name);
}

}  // namespace

StatusOr<int> ReadSchemaVersion(StoreImpl& impl) {
  if (impl.db().tableExists("schema_version")) {
    auto statement = impl.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    statement->executeStep();
    return static_cast<int>(statement->getColumn(0).getInt64());
  }
  auto tables = impl.Prepare(
      "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  tables->executeStep();
  if (tables->getColumn(0).getInt64() > 0) {
    return FailedPrecondition(impl.path() +
                              ": not a StudioFarm database (a SQLite database with tables "
                              "but no schema_version table)");
  }
  return 0;
}

Status CheckSchemaVersion(const StoreImpl& impl, int version) {
  const int latest = LatestSchemaVersion();
  if (version > latest) {
    return FailedPrecondition(impl.path() + ": database schema version " + std::to_string(version) +
                              " is newer than this binary supports (" + std::to_string(latest) +
                              "); upgrade StudioFarm");
  }
  if (!impl.read_only() || version == latest) return Status::Ok();
  if (version > 0 && impl.options().read_older_schema) return Status::Ok();
  if (version == 0) {
    return FailedPrecondition(impl.path() +
                              ": not an initialised StudioFarm database (no schema yet); run "
                              "farmctl db init --db " +
                              impl.path());
  }
  return FailedPrecondition(impl.path() + ": database schema version " + std::to_string(version) +
                            " is older than this binary's (" + std::to_string(latest) +
                            "); run farmctl db migrate --db " + impl.path());
}

StatusOr<MigrateResult> ApplyMigrations(StoreImpl& impl) {
  FARM_RETURN_IF_ERROR(impl.CheckWritable("migrate"));
  // The common case, an up-to-date database, needs no write lock: opening a store must
  // not wait for another connection's write transaction.
  FARM_ASSIGN_OR_RETURN(const int seen, ReadSchemaVersion(impl));
  FARM_RETURN_IF_ERROR(CheckSchemaVersion(impl, seen));
  if (seen == LatestSchemaVersion()) return MigrateResult{seen, seen, {}};

  // The version is read again under the write lock, so two processes opening the same
  // new file cannot both apply a migration.
  WriteScope scope(impl);
  FARM_ASSIGN_OR_RETURN(const int from, ReadSchemaVersion(impl));
  FARM_RETURN_IF_ERROR(CheckSchemaVersion(impl, from));
  MigrateResult result;
  result.from_version = from;
  result.to_version = from;
  if (from == LatestSchemaVersion()) return result;  // another process just migrated

  impl.db().exec(kCreateSchemaVersion);
  for (const Migration& migration : Migrations()) {
    if (migration.version <= from) continue;
    const std::string name = MigrationName(migration);
    try {
      impl.db().exec(std::string(migration.sql));
    } catch (const SQLite::Exception& error) {
      return impl.ErrorFrom(error, "migration " + name + " (nothing was applied)");
    }
    auto record =
        impl.Prepare("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)");
    record->bind(1, migration.version);
    record->bind(2, std::string(migration.name));
    record->bind(3, static_cast<int64_t>(impl.NowMs()));
    record->exec();
    result.applied.push_back(name);
    result.to_version = migration.version;
  }
  scope.Commit();
  return result;
}

}  // namespace farm::store
