#include "wal_checkpointer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

namespace farm::store {

std::unique_ptr<WalCheckpointer> WalCheckpointer::Start(const std::string& path, sqlite3* writer,
                                                        int wake_pages) {
  sqlite3* own = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &own, SQLITE_OPEN_READWRITE, nullptr);
  // A connection finds the log only when it first reads; until then a checkpoint on it
  // does nothing (and reports the database as not in WAL mode).
  if (rc != SQLITE_OK || sqlite3_exec(own, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr,
                                      nullptr) != SQLITE_OK) {
    sqlite3_close(own);  // a failed open may still return a handle
    return nullptr;
  }
  const int log_fd = ::open((path + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
  if (log_fd < 0) {
    sqlite3_close(own);
    return nullptr;
  }
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(own, writer, wake_pages, log_fd));
}

WalCheckpointer::WalCheckpointer(sqlite3* own, sqlite3* writer, int wake_pages, int log_fd)
    : own_(own),
      writer_(writer),
      log_fd_(log_fd),
      wake_pages_(wake_pages),
      inline_pages_(8 * wake_pages),
      inline_rest_pages_(std::max(1, wake_pages / 16)) {
  thread_ = std::thread([this] { Run(); });
  sqlite3_wal_hook(writer_, &WalCheckpointer::OnCommit, this);
}

WalCheckpointer::~WalCheckpointer() {
  // Back to SQLite's automatic checkpoints for whatever the writer still commits.
  sqlite3_wal_autocheckpoint(writer_, wake_pages_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_close(own_);
  ::close(log_fd_);
}

std::uint32_t WalCheckpointer::LogGeneration() const {
  unsigned char header[16];
  if (::pread(log_fd_, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header))) return 0;
  // Big-endian at offset 12 (https://www.sqlite.org/fileformat2.html#walformat).
  return (std::uint32_t{header[12]} << 24) | (std::uint32_t{header[13]} << 16) |
         (std::uint32_t{header[14]} << 8) | std::uint32_t{header[15]};
}

CheckpointCounts WalCheckpointer::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

// Runs on the writer's thread after each commit, with the frames now in the log.
int WalCheckpointer::OnCommit(void* self, sqlite3* db, const char* schema, int pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  if (pages < checkpointer->wake_pages_) return SQLITE_OK;
  if (pages >= checkpointer->inline_pages_) {
    checkpointer->CheckpointInline(db, schema, /*wait_for_thread=*/true);
    return SQLITE_OK;
  }
  // Only the writer rewinds the log (at the start of a transaction), so its header is
  // settled here.
  const std::uint32_t generation = checkpointer->LogGeneration();
  bool finish_inline = false;
  {
    std::lock_guard<std::mutex> lock(checkpointer->mutex_);
    if (generation != checkpointer->generation_) {  // rewound: nothing of it is copied
      checkpointer->generation_ = generation;
      checkpointer->backfilled_ = 0;
    }
    if (checkpointer->running_ || checkpointer->requested_) return SQLITE_OK;
    // Once the thread has copied the bulk, a small rest is cheap to copy here, and only a
    // log copied whole can be rewound. Before that, the thread does the bulk.
    const int backfilled = checkpointer->backfilled_;
    const int rest = pages - backfilled;
    finish_inline = backfilled > 0 && (rest <= checkpointer->inline_rest_pages_ ||
                                       rest <= checkpointer->last_run_pages_ / 4);
    checkpointer->requested_ = !finish_inline;
  }
  if (finish_inline) {
    checkpointer->CheckpointInline(db, schema, /*wait_for_thread=*/false);
  } else {
    checkpointer->wake_.notify_one();
  }
  return SQLITE_OK;
}

// The commit has happened; an error here is counted, never reported as the commit's
// (SQLite's own automatic checkpoint ignores it the same way).
void WalCheckpointer::CheckpointInline(sqlite3* db, const char* schema, bool wait_for_thread) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (wait_for_thread) thread_idle_.wait(lock, [this] { return !running_; });
  // This checkpoint covers any wake still pending; only the writer's commits wake the
  // thread, so it starts none meanwhile.
  requested_ = false;
  lock.unlock();
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, &copied);
  lock.lock();
  CountLocked(rc, /*background=*/false);
  if (rc == SQLITE_OK) backfilled_ = copied;
}

void WalCheckpointer::CountLocked(int rc, bool background) {
  (background ? counts_.background : counts_.inline_runs) += 1;
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    counts_.failures += 1;
    counts_.last_error = rc;
  }
}

void WalCheckpointer::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return requested_ || stopping_; });
    if (stopping_) return;
    requested_ = false;
    running_ = true;
    const std::uint32_t generation = generation_;
    lock.unlock();
    // PASSIVE copies what no reader still needs and never waits; BUSY (another
    // checkpoint running, e.g. the writer's inline one) is retried at the next wake.
    int copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(own_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, &copied);
    lock.lock();
    CountLocked(rc, /*background=*/true);
    running_ = false;
    thread_idle_.notify_all();
    if (rc == SQLITE_OK && generation == generation_) {
      last_run_pages_ = copied - backfilled_;
      backfilled_ = copied;
    }
  }
}

}  // namespace farm::store
