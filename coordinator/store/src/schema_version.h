// Private to farm_store: reading the database's schema version and applying migrations.
#pragma once

#include "farm/schemas/status.h"
#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {

// The highest version recorded in schema_version; 0 for an empty database.
// FailedPrecondition if the file has tables but no schema_version (not a farm database).
// Throws SQLite::Exception.
StatusOr<int> ReadSchemaVersion(StoreImpl& impl);

// FailedPrecondition when `version` is newer than LatestSchemaVersion(), and for a
// read-only store when it is older (read-only never migrates).
Status CheckSchemaVersion(const StoreImpl& impl, int version);

// Applies every migration above the current version and records each in schema_version,
// all in one write scope. Throws SQLite::Exception.
StatusOr<MigrateResult> ApplyMigrations(StoreImpl& impl);

}  // namespace farm::store
