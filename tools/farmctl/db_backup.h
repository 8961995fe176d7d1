// farmctl db backup OUT: a consistent online copy of the farm database while farmd runs.
//
// farmctl reads the database file itself, read-only, rather than asking farmd over HTTP:
// in WAL mode a reader holds a snapshot without blocking the single writer (farmd), the
// store module already opens the file that way for `db info` and the query commands, the
// copy works whether farmd runs or not, and no database-sized transfer goes through
// farmd's event loop. The only cost to farmd is a write-ahead log that cannot be
// checkpointed past the snapshot while the copy runs (docs/reliability.md, "Backups").
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers `backup OUT [--force] [--db PATH]` under the `db` command. The copy is written
// to OUT.tmp, checked (PRAGMA integrity_check, schema version equal to the source's),
// fsynced and renamed to OUT; an existing OUT is refused without --force. Sets
// `exit_code` (kExitOk, kExitFailure, or kExitUsage when no database path is known).
void AddDbBackupCommand(CLI::App& db, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
