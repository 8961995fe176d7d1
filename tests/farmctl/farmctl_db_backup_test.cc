// `farmctl db backup` from the command line: the copy and its report, and every refusal
// with an exit code of 1 and a message that names the file: no database, an existing OUT
// without --force, OUT a directory or the database itself, a missing or unwritable
// directory, and a full disk (a real file-size limit).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "shell_run.h"

namespace {

namespace fs = std::filesystem;

using farmctl_test::CliRun;
using farmctl_test::Quote;
using farmctl_test::Shell;

class FarmctlDbBackupTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("farmctl_db_backup_" + std::to_string(::getpid()) +
                                           "_" +
                                           testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "farm.db").string();
    const CliRun init = Farmctl("db init --db " + Quote(db_));
    ASSERT_EQ(init.exit_code, 0) << init.out;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ignored);
    if (!HasFailure()) fs::remove_all(dir_, ignored);
  }

  // farmctl with `args`, stderr merged into out; `prefix` runs before it in the same shell.
  static CliRun Farmctl(const std::string& args, const std::string& prefix = "") {
    return Shell(prefix + "env STUDIOFARM_DB= '" FARMCTL_PATH "' " + args + " 2>&1");
  }
  CliRun Backup(const std::string& out, const std::string& extra = "",
                const std::string& prefix = "") {
    return Farmctl("db backup " + Quote(out) + " --db " + Quote(db_) + " " + extra, prefix);
  }
  std::string File(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
  std::string db_;
};

bool Has(const CliRun& run, const std::string& text) {
  return run.out.find(text) != std::string::npos;
}

TEST_F(FarmctlDbBackupTest, WritesACheckedCopyAndReportsIt) {
  const std::string out = File("copy.db");
  const CliRun run = Shell("STUDIOFARM_DB= '" FARMCTL_PATH "' db backup " + Quote(out) +
                           " --db " + Quote(db_) + " --json 2>/dev/null");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const nlohmann::json report = farmctl_test::ParseOrFail(run);
  EXPECT_EQ(report.value("ok", false), true);
  EXPECT_EQ(report.value("path", ""), out);
  EXPECT_EQ(report.value("integrity_check", ""), "ok");
  EXPECT_EQ(report.value("size_bytes", -1), static_cast<std::int64_t>(fs::file_size(out)));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  const CliRun info = Farmctl("db info --json --db " + Quote(out));
  ASSERT_EQ(info.exit_code, 0) << info.out;
  const nlohmann::json described = nlohmann::json::parse(info.out, nullptr, false);
  ASSERT_TRUE(described.is_object()) << info.out;
  EXPECT_EQ(described.value("schema_version", -1), report.value("schema_version", -2));
  EXPECT_EQ(described.value("journal_mode", ""), "delete") << "the copy should be standalone";
}

TEST_F(FarmctlDbBackupTest, ExistingOutNeedsForce) {
  const std::string out = File("copy.db");
  std::ofstream(out) << "an older backup";
  const CliRun refused = Backup(out);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_TRUE(Has(refused, out + ": already exists; pass --force")) << refused.out;
  EXPECT_EQ(fs::file_size(out), 15u) << "a refused backup touched OUT";
  const CliRun forced = Backup(out, "--force");
  ASSERT_EQ(forced.exit_code, 0) << forced.out;
  EXPECT_TRUE(Has(forced, "integrity ok")) << forced.out;
  EXPECT_GT(fs::file_size(out), 15u);
}

TEST_F(FarmctlDbBackupTest, MissingDatabaseIsNamed) {
  const std::string missing = File("none.db");
  const CliRun run = Farmctl("db backup " + Quote(File("copy.db")) + " --db " + Quote(missing));
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_TRUE(Has(run, missing + ": no such database file")) << run.out;
  EXPECT_FALSE(fs::exists(File("copy.db")));
  EXPECT_FALSE(fs::exists(File("copy.db.tmp")));
}

TEST_F(FarmctlDbBackupTest, BadOutPathsAreRefused) {
  const CliRun directory = Backup(dir_.string());
  EXPECT_EQ(directory.exit_code, 1) << directory.out;
  EXPECT_TRUE(Has(directory, "is a directory")) << directory.out;

  const CliRun itself = Backup(db_, "--force");
  EXPECT_EQ(itself.exit_code, 1) << itself.out;
  EXPECT_TRUE(Has(itself, "is the database itself")) << itself.out;

  const std::string nested = File("no/such/copy.db");
  const CliRun missing_dir = Backup(nested);
  EXPECT_EQ(missing_dir.exit_code, 1) << missing_dir.out;
  EXPECT_TRUE(Has(missing_dir, "directory " + File("no/such") + " does not exist"))
      << missing_dir.out;
}

// An unwritable directory. Root writes anywhere, so as root farmctl runs as nobody (the
// database files are made readable and writable for it: its -shm index needs writing).
TEST_F(FarmctlDbBackupTest, UnwritableDirectoryIsNamed) {
  const fs::path locked = dir_ / "locked";
  fs::create_directories(locked);
  std::string prefix;
  if (::geteuid() == 0) {
    prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    for (const fs::path& path : {dir_, fs::path(testing::TempDir())}) {
      fs::permissions(path, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
      if (fs::exists(db_ + suffix)) fs::permissions(db_ + suffix, fs::perms::all);
    }
    fs::permissions(dir_, fs::perms::all);
  }
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                              fs::perms::others_exec);
  const std::string out = (locked / "copy.db").string();
  const CliRun run = Backup(out, "", prefix);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_TRUE(Has(run, out + ": cannot write to directory " + locked.string())) << run.out;
  EXPECT_FALSE(fs::exists(out));
}

// A real write failure: `ulimit -f` below the copy's size fails the write with EFBIG (a
// full disk fails it with ENOSPC the same way); farmctl reports it and leaves no file.
TEST_F(FarmctlDbBackupTest, FullDiskFailsCleanly) {
  const std::string out = File("copy.db");
  const CliRun run = Backup(out, "", "ulimit -f 128; ");
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_TRUE(Has(run, "disk full or file-size limit")) << run.out;
  EXPECT_TRUE(Has(run, "File too large")) << run.out;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  EXPECT_FALSE(fs::exists(out + ".tmp-journal"));
}

}  // namespace
