// Opening, migrating and refusing databases: every failure names the path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "farm/schemas/migrations.h"
#include "farm/store/store.h"
#include "store_test_util.h"

namespace farm::store {
namespace {

using ::testing::HasSubstr;
using testing_util::OpenOrDie;
using testing_util::RawSql;
using testing_util::Row;
using testing_util::TempDir;

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

TEST(StoreOpenTest, FreshDatabaseIsMigratedToLatest) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  const MigrateResult& migration = store->migration_at_open();
  EXPECT_EQ(migration.from_version, 0);
  EXPECT_EQ(migration.to_version, LatestSchemaVersion());
  ASSERT_EQ(migration.applied.size(), Migrations().size());
  EXPECT_EQ(migration.applied.front(), "0001_initial");

  auto info = store->Info();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->path, path);
  EXPECT_EQ(info->schema_version, LatestSchemaVersion());
  EXPECT_EQ(info->latest_schema_version, LatestSchemaVersion());
  EXPECT_EQ(info->journal_mode, "wal");
  EXPECT_GT(info->page_count, 0);
  EXPECT_GT(info->page_size, 0);
  ASSERT_EQ(info->row_counts.size(), 15u);
  EXPECT_EQ(info->row_counts.back().first, "job_artifacts");
  EXPECT_EQ(info->row_counts.front().first, "sweeps");
  for (const auto& [table, rows] : info->row_counts) EXPECT_EQ(rows, 0) << table;
  EXPECT_EQ(RawSql(path, "PRAGMA foreign_key_check"), "");
}

TEST(StoreOpenTest, ReopenAndMigrateAreNoOps) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  auto again = OpenOrDie(path);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->migration_at_open().from_version, LatestSchemaVersion());
  EXPECT_TRUE(again->migration_at_open().applied.empty());
  auto migrate = again->Migrate();
  ASSERT_TRUE(migrate.ok()) << migrate.status().ToString();
  EXPECT_TRUE(migrate->applied.empty());
  EXPECT_EQ(migrate->to_version, LatestSchemaVersion());
  // One schema_version row per migration, not one per open.
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM schema_version"),
            std::to_string(Migrations().size()));
}

TEST(StoreOpenTest, RefusesNewerDatabaseInBothModes) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  const int newer = LatestSchemaVersion() + 6;
  RawSql(path, "INSERT INTO schema_version (version, name, applied_at) VALUES (" +
                   std::to_string(newer) + ", 'from_the_future', 0)");
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    auto store = Store::Open(path, mode);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(store.status().message(),
              path + ": database schema version " + std::to_string(newer) +
                  " is newer than this binary supports (" + std::to_string(LatestSchemaVersion()) +
                  "); upgrade StudioFarm");
  }
}

TEST(StoreOpenTest, ReadOnlyRefusesOlderDatabase) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  // Pretend the newest migration has not run yet (its tables stay; only the version
  // matters for the refusal).
  RawSql(path,
         "DELETE FROM schema_version WHERE version = " + std::to_string(LatestSchemaVersion()));
  const int older = LatestSchemaVersion() - 1;
  auto read_only = Store::Open(path, OpenMode::kReadOnly);
  ASSERT_FALSE(read_only.ok());
  EXPECT_EQ(read_only.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(read_only.status().message(), HasSubstr(path));
  if (older == 0) {
    EXPECT_THAT(read_only.status().message(), HasSubstr("run farmctl db init"));
  } else {
    EXPECT_THAT(read_only.status().message(), HasSubstr("run farmctl db migrate"));
  }
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM schema_version"), std::to_string(older));
}

TEST(StoreOpenTest, ReadOlderSchemaOpensAnOlderDatabaseReadOnlyButNeverANewerOne) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  RawSql(path,
         "DELETE FROM schema_version WHERE version = " + std::to_string(LatestSchemaVersion()));
  StoreOptions options;
  options.read_older_schema = true;
  auto older = Store::Open(path, OpenMode::kReadOnly, options);
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  auto counts = (*older)->CountJobsByState();
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_TRUE(counts->empty());
  older->reset();

  RawSql(path, "INSERT INTO schema_version (version, name, applied_at) VALUES (" +
                   std::to_string(LatestSchemaVersion() + 6) + ", 'from_the_future', 0)");
  auto newer = Store::Open(path, OpenMode::kReadOnly, options);
  ASSERT_FALSE(newer.ok());
  EXPECT_THAT(newer.status().message(), HasSubstr("is newer than this binary supports"));
}

TEST(StoreOpenTest, ReadWriteMissingFileWithoutCreateIsNotFound) {
  TempDir dir;
  const std::string path = dir.File("absent.db");
  StoreOptions options;
  options.create_if_missing = false;
  auto store = Store::Open(path, OpenMode::kReadWrite, options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(StoreOpenTest, ReadOnlyMissingFileIsNotFoundAndCreatesNothing) {
  TempDir dir;
  const std::string path = dir.File("absent.db");
  auto store = Store::Open(path, OpenMode::kReadOnly);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(StoreOpenTest, MissingParentDirectory) {
  TempDir dir;
  const std::string path = dir.File("no/such/dir/farm.db");
  auto store = Store::Open(path, OpenMode::kReadWrite);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_THAT(store.status().message(), HasSubstr("parent directory"));
}

TEST(StoreOpenTest, DirectoryPath) {
  TempDir dir;
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    auto store = Store::Open(dir.path().string(), mode);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(store.status().message(), HasSubstr(dir.path().string()));
    EXPECT_THAT(store.status().message(), HasSubstr("is a directory"));
  }
}

TEST(StoreOpenTest, TextFileIsNotSqlite) {
  TempDir dir;
  const std::string path = dir.File("notes.db");
  WriteFile(path, "name: quickstart\nrenders: 100\n");
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    auto store = Store::Open(path, mode);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(store.status().message(), HasSubstr(path));
    EXPECT_THAT(store.status().message(), HasSubstr("not a SQLite database"));
  }
  // The refusal did not overwrite the user's file.
  std::ifstream in(path);
  std::string first_line;
  std::getline(in, first_line);
  EXPECT_EQ(first_line, "name: quickstart");
}

TEST(StoreOpenTest, RandomBytesAreNotSqlite) {
  TempDir dir;
  const std::string path = dir.File("random.db");
  std::mt19937 rng(42);
  std::string bytes(8192, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  WriteFile(path, bytes);
  auto store = Store::Open(path, OpenMode::kReadWrite);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

TEST(StoreOpenTest, TruncatedDatabaseIsDataLoss) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  {
    auto store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    std::vector<NewRender> renders;
    for (int i = 0; i < 300; ++i) renders.push_back(Row(testing_util::SampleRender(i)));
    ASSERT_TRUE(store->InsertRenders(renders).ok());
  }  // the last close checkpoints and removes the WAL
  ASSERT_FALSE(std::filesystem::exists(path + "-wal"));
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size / 2);
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    auto store = Store::Open(path, mode);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kDataLoss) << store.status().ToString();
    EXPECT_THAT(store.status().message(), HasSubstr(path));
    EXPECT_THAT(store.status().message(), HasSubstr("truncated"));
  }
}

TEST(StoreOpenTest, TruncatedInsideTheHeaderIsDataLoss) {
  TempDir dir;
  const std::string path = dir.File("farm.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  std::filesystem::resize_file(path, 40);
  auto store = Store::Open(path, OpenMode::kReadOnly);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

TEST(StoreOpenTest, EmptyFileIsRefusedReadOnlyAndInitialisedReadWrite) {
  TempDir dir;
  const std::string path = dir.File("empty.db");
  WriteFile(path, "");
  auto read_only = Store::Open(path, OpenMode::kReadOnly);
  ASSERT_FALSE(read_only.ok());
  EXPECT_EQ(read_only.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(read_only.status().message(), HasSubstr(path));
  EXPECT_THAT(read_only.status().message(), HasSubstr("empty file"));
  EXPECT_EQ(std::filesystem::file_size(path), 0u);

  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->migration_at_open().to_version, LatestSchemaVersion());
}

TEST(StoreOpenTest, ForeignSqliteDatabaseIsRefusedAndLeftAlone) {
  TempDir dir;
  const std::string path = dir.File("other.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "CREATE TABLE photos (id INTEGER PRIMARY KEY)", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
    auto store = Store::Open(path, mode);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_THAT(store.status().message(), HasSubstr(path));
    EXPECT_THAT(store.status().message(), HasSubstr("not a StudioFarm database"));
  }
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'sweeps'"), "0");
}

TEST(StoreOpenTest, ForeignKeysAndChecksAreEnforced) {
  TempDir dir;
  auto store = OpenOrDie(dir.File("farm.db"));
  ASSERT_NE(store, nullptr);
  // A job of a sweep that does not exist.
  auto jobs = store->InsertJobs(99, {});
  ASSERT_FALSE(jobs.ok());
  EXPECT_EQ(jobs.status().code(), StatusCode::kNotFound);
  // A render that the schema's CHECK refuses (steps must be positive).
  RenderParams bad = testing_util::SampleRender(1);
  bad.steps = 0;
  auto renders = store->InsertRenders({Row(bad)});
  ASSERT_FALSE(renders.ok());
  EXPECT_EQ(renders.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(renders.status().message(), HasSubstr("steps"));
  // A score for a render that does not exist violates a foreign key.
  auto scores = store->InsertScores({{12345, 1, 0, "cosine", "arcface-1", 0.5, 1, ""}});
  ASSERT_FALSE(scores.ok());
  EXPECT_EQ(scores.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(scores.status().message(), HasSubstr("FOREIGN KEY"));
}

}  // namespace
}  // namespace farm::store
