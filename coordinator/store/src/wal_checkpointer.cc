#include "wal_checkpointer.h"

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
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(own, writer, wake_pages));
}

WalCheckpointer::WalCheckpointer(sqlite3* own, sqlite3* writer, int wake_pages)
    : own_(own), writer_(writer), wake_pages_(wake_pages), inline_pages_(8 * wake_pages) {
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
}

CheckpointCounts WalCheckpointer::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

// Runs on the writer's thread after each commit, with the frames now in the log.
int WalCheckpointer::OnCommit(void* self, sqlite3* db, const char* schema, int pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  if (pages >= checkpointer->inline_pages_) {
    // The commit has happened; an error here is counted, never reported as the
    // commit's (SQLite's own automatic checkpoint ignores it the same way).
    const int rc =
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    checkpointer->Count(rc, /*background=*/false);
  } else if (pages >= checkpointer->wake_pages_) {
    checkpointer->Wake();
  }
  return SQLITE_OK;
}

void WalCheckpointer::Wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requested_ = true;
  }
  wake_.notify_one();
}

void WalCheckpointer::Count(int rc, bool background) {
  std::lock_guard<std::mutex> lock(mutex_);
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
    lock.unlock();
    // PASSIVE copies what no reader still needs and never waits; BUSY (another
    // checkpoint running, e.g. the writer's inline one) is retried at the next wake.
    const int rc =
        sqlite3_wal_checkpoint_v2(own_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    Count(rc, /*background=*/true);
    lock.lock();
  }
}

}  // namespace farm::store
