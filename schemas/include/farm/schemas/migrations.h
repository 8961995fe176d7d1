// The database migrations, embedded from schemas/migrations/NNNN_name.sql at build time.
//
// Migrations are append-only: a released file is never edited; a change is a new file
// with the next number. The store applies every migration above the database's
// schema_version inside one transaction at start-up.
#pragma once

#include <string_view>
#include <vector>

namespace farm {

struct Migration {
  int version;            // NNNN from the file name; 1, 2, 3, ... without gaps
  std::string_view name;  // file name without the number and extension
  std::string_view sql;
};

// In ascending version order.
const std::vector<Migration>& Migrations();

// Highest version this binary knows.
int LatestSchemaVersion();

}  // namespace farm
