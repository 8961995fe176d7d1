// Private to farm_store: checks of a database path before SQLite sees it, so that a
// directory, a missing parent, a foreign or truncated file gives a clear error naming
// the path instead of SQLite's "unable to open database file" or a later crash.
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farm::store {

// OK when `path` can be opened as asked:
// - read_only: an existing, non-empty file with a SQLite header;
// - otherwise: an existing SQLite file, an empty file (initialised as new), or a missing
//   file in an existing directory when create_if_missing.
// Checks the header's page size and, when no write-ahead log holds newer pages, that the
// file is as long as the header says (DataLoss "truncated" otherwise).
Status CheckDatabaseFile(const std::string& path, bool read_only, bool create_if_missing);

}  // namespace farm::store
