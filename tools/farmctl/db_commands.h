// farmctl db init|migrate|info: create, upgrade and describe the farm database.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers the `db` verb and its subcommands on `app`. Each subcommand accepts
// `--db PATH` (stored in options.db_path, as the global flag is) and, when it runs, sets
// `exit_code` (kExitOk, kExitFailure, or kExitUsage when no database path is known).
// `options` and `exit_code` must outlive app.parse().
//   init     creates the file (and its directory) and applies all migrations; a file
//            that exists but is not a farm database is refused;
//   migrate  applies pending migrations to an existing database (NotFound if missing)
//            and reports the versions from -> to;
//   info     opens the database read-only (safe while farmd writes) and prints its path,
//            schema version, journal mode, size and rows per table (JSON with --json);
//   backup   a consistent online copy (db_backup.h).
void AddDbCommands(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
