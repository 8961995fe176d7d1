// A consistent online copy of the farm database (SQLite's online backup API), taken
// while farmd keeps writing.
//
// The source is opened read-only and one read transaction is held for the whole copy:
// in WAL mode that pins one snapshot, so every page comes from the same commit even when
// the copy runs in many steps, and farmd (the single writer) is never blocked. While the
// copy runs, farmd's checkpoints cannot move past the snapshot, so its write-ahead log
// grows for that long and shrinks again at the next checkpoint afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "farm/schemas/status.h"

namespace farm::store {

struct BackupProgress {
  std::int64_t pages_done = 0;
  std::int64_t pages_total = 0;
};

struct BackupOptions {
  // Pages copied per sqlite3_backup_step (a step is also when progress is reported).
  int pages_per_step = 256;
  // How long a step may keep failing with SQLITE_BUSY/SQLITE_LOCKED (another connection
  // recovering the log, a lock on the destination) before the copy gives up; also the
  // busy timeout of the source connection.
  int busy_timeout_ms = 10000;
  // Called after every step.
  std::function<void(const BackupProgress&)> progress;
};

struct BackupResult {
  std::int64_t page_count = 0;
  std::int64_t page_size = 0;
  std::int64_t bytes = 0;
  int schema_version = 0;  // of the source snapshot and, checked, of the copy
  int busy_retries = 0;    // steps retried on SQLITE_BUSY/SQLITE_LOCKED
  int steps = 0;
};

// Copies the farm database at `source` into a new file `destination` (refused when it
// exists), then checks the copy: `PRAGMA integrity_check` must say "ok" and its schema
// version must equal the source's. The copy is a standalone file (rollback journal, no
// -wal or -shm beside it) whose contents are synced to disk; farmd switches it back to
// WAL when it opens it. On any error the partial `destination` is removed.
// Errors: NotFound (no source), InvalidArgument (not a SQLite file), FailedPrecondition
// (not a farm database, schema newer than this binary, destination exists), Unavailable
// (locks held past the timeout, destination not writable, disk full or a file-size
// limit: the message names the OS error), DataLoss (the copy failed its check).
StatusOr<BackupResult> BackupDatabase(const std::string& source, const std::string& destination,
                                      const BackupOptions& options = {});

}  // namespace farm::store
