// The write-ahead log is checkpointed on the store's own thread, not inside commits; the
// writer takes over when the thread cannot keep up, and closing leaves no log behind.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "farm/store/store.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using testing_util::FakeClockOptions;
using testing_util::OpenOrDie;
using testing_util::RawSql;
using testing_util::Row;
using testing_util::SampleRender;
using testing_util::TempDir;

// Above the frames the migrations leave in the log, below the frames of two batches.
constexpr int kWakePages = 16;
constexpr std::uintmax_t kFrameBytes = 24 + 16384;  // frame header + one 16 KiB page

StoreOptions SmallLogOptions() {
  StoreOptions options = FakeClockOptions();
  options.wal_checkpoint_pages = kWakePages;
  return options;
}

std::uintmax_t FileSize(const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

// Inserts `count` new renders (numbers from `first`) in one transaction.
void InsertBatch(Store& store, int first, int count) {
  std::vector<NewRender> rows;
  for (int i = first; i < first + count; ++i) rows.push_back(Row(SampleRender(i)));
  auto inserted = store.InsertRenders(rows);
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
}

TEST(StoreWalCheckpointTest, TheThreadCheckpointsAndTheWriterRewindsTheLog) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  auto store = OpenOrDie(path, OpenMode::kReadWrite, SmallLogOptions());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->wal_checkpoints().background);

  // 60 commits of 40 renders (10 to 17 frames each): far more frames than the log ever
  // holds when it is rewound. The pause lets the woken thread finish, so the thread does
  // the checkpoints; the writer steps in only when the disk is slow enough that the thread
  // falls seven commits behind (a busy CI machine).
  for (int batch = 0; batch < 60; ++batch) {
    InsertBatch(*store, batch * 40, 40);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const WalCheckpointStats stats = store->wal_checkpoints();
  EXPECT_GE(stats.background_runs, 5);
  EXPECT_GT(stats.background_runs, 2 * stats.inline_runs)
      << stats.background_runs << " background, " << stats.inline_runs << " inline";
  EXPECT_EQ(stats.failures, 0) << stats.last_error;
  // Every row is in the database file or the log; the log never grew past the inline limit
  // and the commit that reached it (without checkpoints it would reach 600 frames).
  EXPECT_LT(FileSize(path + "-wal"), (8 * kWakePages + 32) * kFrameBytes);
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM renders"), "2400");
}

TEST(StoreWalCheckpointTest, UnderBackToBackCommitsTheLogIsRewoundWithoutACheckpointPerCommit) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  StoreOptions options = FakeClockOptions();
  options.wal_checkpoint_pages = 64;
  auto store = OpenOrDie(path, OpenMode::kReadWrite, options);
  ASSERT_NE(store, nullptr);
  // Small commits with no pause, as farmd's group commits come: the thread can never copy
  // the whole log between two of them, so the writer finishes the last frames itself.
  constexpr int kCommits = 400;
  for (int batch = 0; batch < kCommits; ++batch) InsertBatch(*store, batch * 4, 4);
  const WalCheckpointStats stats = store->wal_checkpoints();
  EXPECT_GE(stats.background_runs, 1);
  EXPECT_EQ(stats.failures, 0) << stats.last_error;
  // Waking the thread after every commit past the threshold ran a checkpoint (two fsyncs)
  // per commit: about 380 here, about 80 now.
  EXPECT_LE(stats.background_runs + stats.inline_runs, kCommits / 2)
      << stats.background_runs << " background, " << stats.inline_runs << " inline";
  // At worst the writer steps in at eight times the threshold, after the thread's
  // checkpoint if one runs (however slow the disk): one commit more, never twice as much.
  EXPECT_LT(FileSize(path + "-wal"), 2 * 8 * 64 * kFrameBytes);
  std::printf("%d commits: %lld checkpoints by the thread, %lld by the writer\n", kCommits,
              static_cast<long long>(stats.background_runs),
              static_cast<long long>(stats.inline_runs));
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM renders"), std::to_string(4 * kCommits));
}

TEST(StoreWalCheckpointTest, TheWriterCheckpointsWhenAReaderKeepsTheLogFromBeingRewound) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  auto store = OpenOrDie(path, OpenMode::kReadWrite, SmallLogOptions());
  ASSERT_NE(store, nullptr);
  InsertBatch(*store, 0, 10);

  // A reader in an open transaction pins the log: it cannot be rewound under it.
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM renders;", nullptr, nullptr, nullptr),
            SQLITE_OK);
  for (int batch = 1; batch <= 40; ++batch) InsertBatch(*store, batch * 40, 40);
  EXPECT_GT(store->wal_checkpoints().inline_runs, 0)
      << "the log grew without the writer stepping in";
  EXPECT_EQ(store->wal_checkpoints().failures, 0) << store->wal_checkpoints().last_error;
  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM renders"), "1610");
}

TEST(StoreWalCheckpointTest, ClosingCheckpointsAndRemovesTheLog) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  {
    auto store = OpenOrDie(path, OpenMode::kReadWrite, SmallLogOptions());
    ASSERT_NE(store, nullptr);
    for (int batch = 0; batch < 5; ++batch) InsertBatch(*store, batch * 40, 40);
    EXPECT_TRUE(std::filesystem::exists(path + "-wal"));
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"))
      << "the checkpoint thread's connection kept the log open past the store";
  auto reopened = OpenOrDie(path, OpenMode::kReadOnly);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM renders"), "200");
}

TEST(StoreWalCheckpointTest, WithoutTheThreadSqliteCheckpointsInsideCommits) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  StoreOptions options = SmallLogOptions();
  options.background_checkpoints = false;
  auto store = OpenOrDie(path, OpenMode::kReadWrite, options);
  ASSERT_NE(store, nullptr);
  for (int batch = 0; batch < 5; ++batch) InsertBatch(*store, batch * 40, 40);
  const WalCheckpointStats stats = store->wal_checkpoints();
  EXPECT_FALSE(stats.background);
  EXPECT_EQ(stats.background_runs + stats.inline_runs, 0);
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM renders"), "200");
}

TEST(StoreWalCheckpointTest, ReadOnlyStoresRunNoThread) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  { ASSERT_NE(OpenOrDie(path), nullptr); }
  auto store = OpenOrDie(path, OpenMode::kReadOnly, SmallLogOptions());
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->wal_checkpoints().background);
}

}  // namespace
}  // namespace farm::store
