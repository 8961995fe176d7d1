// Private to farm_store: checkpoints the write-ahead log on a thread of its own, so that
// the writer's commits do not wait for pages to be copied into the database file.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace farm::store {

struct CheckpointCounts {
  std::int64_t background = 0;   // passive checkpoints run by the thread
  std::int64_t inline_runs = 0;  // run by the writer because the thread fell behind
  std::int64_t failures = 0;     // of either kind (SQLITE_BUSY excluded: retried later)
  int last_error = SQLITE_OK;    // SQLite's extended code of the last failure
};

// SQLite checkpoints a WAL database on the committing connection once the log holds
// wal_autocheckpoint frames (1,000): the commit that crosses it copies every page of the
// log into the database file before it returns, about a quarter of a bulk insert's time
// (docs/BENCHMARKS.md). Instead, the writer's commit hook wakes this thread, which runs a
// PASSIVE checkpoint (never blocks the writer or readers) on its own connection.
//
// The writer rewinds the log at its next transaction only once every frame is copied,
// which the thread alone never achieves while commits keep coming (each adds frames
// during its copy; waking it after every commit cost two fsyncs per commit). So the
// thread copies the bulk, and the writer copies the rest inline once few frames are left
// (a sixteenth of `wake_pages`, or a quarter of what the thread copied last), which lets
// its next transaction rewind the log. Should the thread fall behind (a reader pinning
// old frames, a slow disk), the writer checkpoints inline once the log holds eight times
// `wake_pages`, as SQLite would have done (with 1,000 pages of 16 KiB: 125 MiB). If the
// thread's checkpoint is still running then (a slow disk: its fsync), the writer waits
// for it to end first: its own would only find SQLite's checkpoint lock taken, and the
// log would grow for as long as the disk stays slow. The writer then runs at the disk's
// pace, as it did with SQLite's own checkpoints.
class WalCheckpointer {
 public:
  // Starts the thread with its own connection to `path`; installs the commit hook on
  // `writer` (replacing SQLite's automatic checkpoints): from `wake_pages` frames in the
  // log a commit wakes the thread. Returns nullptr, leaving the writer with SQLite's
  // automatic checkpoints, if the second connection cannot open.
  static std::unique_ptr<WalCheckpointer> Start(const std::string& path, sqlite3* writer,
                                                int wake_pages);
  ~WalCheckpointer();  // stops and joins the thread, closes its connection

  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  CheckpointCounts counts() const;

 private:
  WalCheckpointer(sqlite3* own, sqlite3* writer, int wake_pages, int log_fd);
  static int OnCommit(void* self, sqlite3* db, const char* schema, int pages);
  // The log's checkpoint sequence (its header), which each rewind increments.
  std::uint32_t LogGeneration() const;
  // `wait_for_thread`: first wait until the thread's checkpoint, if one runs, has ended.
  void CheckpointInline(sqlite3* db, const char* schema, bool wait_for_thread);
  void Run();
  void CountLocked(int rc, bool background);  // mutex_ held

  sqlite3* own_;     // this thread's connection
  sqlite3* writer_;  // the store's connection, for the hook
  int log_fd_ = -1;  // the write-ahead log, read-only, for its header
  const int wake_pages_;
  const int inline_pages_;
  const int inline_rest_pages_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable thread_idle_;  // the thread's checkpoint has ended
  bool requested_ = false;               // guarded by mutex_, as the rest below
  bool running_ = false;                 // a background checkpoint is in progress
  bool stopping_ = false;
  int backfilled_ = 0;            // frames of the current log copied by the last checkpoint
  int last_run_pages_ = 0;        // frames the thread's last checkpoint copied
  std::uint32_t generation_ = 0;  // the log's checkpoint sequence the count belongs to
  CheckpointCounts counts_;
  std::thread thread_;
};

}  // namespace farm::store
