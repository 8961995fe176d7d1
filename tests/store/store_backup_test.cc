// BackupDatabase: a copy of one snapshot while another connection keeps writing, checked
// and standalone; and its errors (missing source, existing destination, not a farm
// database, unwritable destination, a file-size limit, a lock held past the timeout).
#include "farm/store/backup.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <vector>

#include "farm/schemas/migrations.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using testing_util::OpenOrDie;
using testing_util::RawSql;
using testing_util::Row;
using testing_util::SampleRender;
using testing_util::TempDir;

namespace fs = std::filesystem;

// Inserts renders `first`..`first + count - 1` (about 2 KiB each).
void AddRenders(Store& store, int first, int count) {
  std::vector<NewRender> rows;
  for (int i = first; i < first + count; ++i) rows.push_back(Row(SampleRender(i)));
  auto inserted = store.InsertRenders(rows);
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
}

std::int64_t CountRenders(const std::string& path) {
  auto store = OpenOrDie(path, OpenMode::kReadOnly);
  if (!store) return -1;
  auto renders = store->ListRenders({});
  EXPECT_TRUE(renders.ok()) << renders.status().ToString();
  return renders.ok() ? static_cast<std::int64_t>(renders->size()) : -1;
}

bool Contains(const Status& status, const std::string& text) {
  return status.message().find(text) != std::string::npos;
}

TEST(StoreBackupTest, CopiesOneSnapshotWhileAnotherConnectionWrites) {
  TempDir dir;
  const std::string source = dir.File("farm.db");
  const std::string copy = dir.File("copy.db");
  auto writer = OpenOrDie(source);
  ASSERT_NE(writer, nullptr);
  AddRenders(*writer, 0, 300);

  std::vector<BackupProgress> seen;
  BackupOptions options;
  options.pages_per_step = 2;
  // Between steps the writer commits more renders; none may reach the copy, and the copy
  // must not restart (progress only grows).
  options.progress = [&](const BackupProgress& progress) {
    seen.push_back(progress);
    if (seen.size() <= 3) AddRenders(*writer, 1000 * static_cast<int>(seen.size()), 20);
  };
  auto result = BackupDatabase(source, copy, options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();

  ASSERT_GT(seen.size(), 3u) << "expected the copy to take several steps";
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GT(seen[i].pages_done, seen[i - 1].pages_done) << "the copy restarted at step " << i;
  }
  EXPECT_EQ(seen.back().pages_done, seen.back().pages_total);
  EXPECT_EQ(result->page_count, seen.back().pages_total);
  EXPECT_EQ(result->schema_version, LatestSchemaVersion());
  EXPECT_EQ(result->bytes, result->page_count * result->page_size);
  EXPECT_EQ(static_cast<std::int64_t>(fs::file_size(copy)), result->bytes);

  EXPECT_EQ(CountRenders(copy), 300) << "the copy is not the snapshot at its start";
  EXPECT_EQ(CountRenders(source), 360);
  // Standalone: rollback journal, nothing beside it; farmd turns WAL back on at open.
  EXPECT_EQ(RawSql(copy, "PRAGMA journal_mode"), "delete");
  EXPECT_FALSE(fs::exists(copy + "-wal"));
  EXPECT_FALSE(fs::exists(copy + "-journal"));
  EXPECT_EQ(RawSql(copy, "PRAGMA integrity_check"), "ok");
  auto reopened = OpenOrDie(copy);
  ASSERT_NE(reopened, nullptr);
  auto info = reopened->Info();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->journal_mode, "wal");
  AddRenders(*reopened, 5000, 1);  // a restored copy takes writes
}

TEST(StoreBackupTest, MissingSourceIsNotFound) {
  TempDir dir;
  auto result = BackupDatabase(dir.File("nope.db"), dir.File("copy.db"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound) << result.status().ToString();
  EXPECT_TRUE(Contains(result.status(), dir.File("nope.db"))) << result.status().ToString();
  EXPECT_FALSE(fs::exists(dir.File("copy.db")));
}

TEST(StoreBackupTest, ExistingDestinationIsRefusedAndKept) {
  TempDir dir;
  ASSERT_NE(OpenOrDie(dir.File("farm.db")), nullptr);
  std::ofstream(dir.File("copy.db")) << "keep me";
  auto result = BackupDatabase(dir.File("farm.db"), dir.File("copy.db"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition) << result.status().ToString();
  EXPECT_TRUE(Contains(result.status(), "already exists")) << result.status().ToString();
  EXPECT_EQ(fs::file_size(dir.File("copy.db")), 7u);
}

TEST(StoreBackupTest, ForeignSqliteFileIsNotAFarmDatabase) {
  TempDir dir;
  const std::string other = dir.File("other.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE notes (text TEXT)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto result = BackupDatabase(other, dir.File("copy.db"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition) << result.status().ToString();
  EXPECT_TRUE(Contains(result.status(), "not a StudioFarm database")) << result.status().ToString();
  EXPECT_FALSE(fs::exists(dir.File("copy.db")));
}

TEST(StoreBackupTest, DestinationInMissingDirectoryIsUnavailable) {
  TempDir dir;
  ASSERT_NE(OpenOrDie(dir.File("farm.db")), nullptr);
  const std::string copy = dir.File("no/such/dir/copy.db");
  auto result = BackupDatabase(dir.File("farm.db"), copy);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().ToString();
  EXPECT_TRUE(Contains(result.status(), copy)) << result.status().ToString();
}

// A real write failure: RLIMIT_FSIZE below the copy's size (EFBIG, as a full disk would
// give ENOSPC). SIGXFSZ is ignored so the write fails instead of killing the test.
TEST(StoreBackupTest, FileSizeLimitFailsCleanlyAndLeavesNoCopy) {
  TempDir dir;
  const std::string source = dir.File("farm.db");
  const std::string copy = dir.File("copy.db");
  {
    auto writer = OpenOrDie(source);
    ASSERT_NE(writer, nullptr);
    AddRenders(*writer, 0, 300);
  }
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto* previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = saved;
  limited.rlim_cur = 128 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  auto result = BackupDatabase(source, copy);
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous);

  ASSERT_FALSE(result.ok()) << "the copy fit under the limit";
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().ToString();
  EXPECT_TRUE(Contains(result.status(), "disk full or file-size limit"))
      << result.status().ToString();
  EXPECT_TRUE(Contains(result.status(), "File too large")) << result.status().ToString();
  EXPECT_FALSE(fs::exists(copy));
  EXPECT_FALSE(fs::exists(copy + "-journal"));
  EXPECT_EQ(CountRenders(source), 300);
}

// A connection in exclusive locking mode keeps every reader out; the backup gives up after
// its timeout with a message that says so.
TEST(StoreBackupTest, LockHeldPastTheTimeoutIsUnavailable) {
  TempDir dir;
  const std::string source = dir.File("farm.db");
  ASSERT_NE(OpenOrDie(source), nullptr);
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open_v2(source.c_str(), &holder, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder,
                         "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; "
                         "UPDATE schema_version SET version = version; ",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(holder);
  BackupOptions options;
  options.busy_timeout_ms = 200;
  auto result = BackupDatabase(source, dir.File("copy.db"), options);
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().ToString();
  EXPECT_TRUE(Contains(result.status(), "lock")) << result.status().ToString();
  EXPECT_FALSE(fs::exists(dir.File("copy.db")));
}

}  // namespace
}  // namespace farm::store
