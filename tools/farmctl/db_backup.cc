#include "db_backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <system_error>

#include "farm/store/backup.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BackupArgs {
  std::string out;
  bool force = false;
};

// Where OUT may be written: its directory exists and is writable, OUT is not a directory
// nor the database itself, and it exists only with --force.
farm::Status CheckOut(const std::string& database, const BackupArgs& args) {
  std::error_code error;
  const fs::path out(args.out);
  const fs::file_status status = fs::status(out, error);
  if (fs::is_directory(status)) {
    return farm::InvalidArgument(args.out + ": is a directory; give the backup's file name");
  }
  if (fs::exists(status)) {
    if (fs::equivalent(out, database, error)) {
      return farm::InvalidArgument(args.out + ": is the database itself; back up to another file");
    }
    if (!args.force) {
      return farm::FailedPrecondition(args.out + ": already exists; pass --force to replace it");
    }
    // A log beside OUT would be replayed into the new file by the next opener.
    if (fs::exists(args.out + "-wal", error)) {
      return farm::FailedPrecondition(args.out + ": " + args.out +
                                      "-wal exists (a database in use?); remove it or choose "
                                      "another file");
    }
  }
  fs::path parent = out.parent_path();
  if (parent.empty()) parent = ".";
  const fs::file_status parent_status = fs::status(parent, error);
  if (!fs::exists(parent_status)) {
    return farm::NotFound(args.out + ": directory " + parent.string() + " does not exist");
  }
  if (!fs::is_directory(parent_status)) {
    return farm::InvalidArgument(args.out + ": " + parent.string() + " is not a directory");
  }
  if (::access(parent.c_str(), W_OK | X_OK) != 0) {
    return farm::Unavailable(args.out + ": cannot write to directory " + parent.string() + ": " +
                             std::strerror(errno));
  }
  return farm::Status::Ok();
}

// The rename is durable only once the directory entry is on disk.
farm::Status SyncDirectory(const std::string& file) {
  fs::path parent = fs::path(file).parent_path();
  if (parent.empty()) parent = ".";
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return farm::Unavailable(parent.string() + ": open to sync: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return farm::Unavailable(parent.string() + ": fsync: " + std::strerror(error));
  return farm::Status::Ok();
}

// "backup: 1234/5000 pages (24%)" on stderr: redrawn in place on a terminal, otherwise a
// line at most once a second (and the last one), so logs stay short.
class ProgressLine {
 public:
  ProgressLine() : live_(::isatty(STDERR_FILENO) == 1) {}

  void Update(const farm::store::BackupProgress& progress) {
    const Clock::time_point now = Clock::now();
    const bool done = progress.pages_done >= progress.pages_total;
    if (!live_ && !done && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    const std::int64_t percent =
        progress.pages_total > 0 ? progress.pages_done * 100 / progress.pages_total : 100;
    std::cerr << (live_ ? "\r" : "") << "backup: " << progress.pages_done << "/"
              << progress.pages_total << " pages (" << percent << "%)" << (live_ ? "" : "\n");
    drawn_ = true;
  }
  void Finish() {
    if (live_ && drawn_) std::cerr << "\n";
  }

 private:
  bool live_;
  bool drawn_ = false;
  Clock::time_point last_{};
};

int RunBackup(const GlobalOptions& options, const BackupArgs& args) {
  const std::string database = EffectiveDbPath(options);
  if (database.empty()) {
    ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
    return kExitUsage;
  }
  if (farm::Status status = CheckOut(database, args); !status.ok()) {
    return ReportError(options, status);
  }
  // A file-size limit must fail the write (EFBIG, reported) instead of killing farmctl.
  std::signal(SIGXFSZ, SIG_IGN);
  const std::string tmp = args.out + ".tmp";
  std::error_code ignored;
  for (const char* suffix : {"", "-journal"}) fs::remove(tmp + suffix, ignored);  // an old try

  ProgressLine progress_line;
  farm::store::BackupOptions backup_options;
  backup_options.progress = [&](const farm::store::BackupProgress& p) { progress_line.Update(p); };
  const Clock::time_point start = Clock::now();
  auto result = farm::store::BackupDatabase(database, tmp, backup_options);
  progress_line.Finish();
  if (!result.ok()) return ReportError(options, result.status());
  if (std::rename(tmp.c_str(), args.out.c_str()) != 0) {
    const std::string error = std::strerror(errno);
    fs::remove(tmp, ignored);
    return ReportError(options,
                       farm::Unavailable(args.out + ": rename from " + tmp + ": " + error));
  }
  if (farm::Status status = SyncDirectory(args.out); !status.ok()) {
    return ReportError(options, status);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (options.json) {
    nlohmann::ordered_json out = {{"ok", true},
                                  {"path", args.out},
                                  {"source", database},
                                  {"schema_version", result->schema_version},
                                  {"page_count", result->page_count},
                                  {"page_size", result->page_size},
                                  {"size_bytes", result->bytes},
                                  {"integrity_check", "ok"},
                                  {"busy_retries", result->busy_retries},
                                  {"seconds", seconds}};
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << args.out << ": backup of " << database << " at schema version "
            << result->schema_version << ", " << result->page_count << " pages ("
            << std::fixed << std::setprecision(1)
            << static_cast<double>(result->bytes) / (1024.0 * 1024.0)
            << " MiB), integrity ok, in " << std::setprecision(2) << seconds << " s\n";
  return kExitOk;
}

}  // namespace

void AddDbBackupCommand(CLI::App& db, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* command = db.add_subcommand(
      "backup",
      "Copy the database consistently while farmd runs (SQLite online backup of one "
      "snapshot), check the copy and write it to OUT");
  command->add_option("OUT", args->out, "The backup file (written as OUT.tmp, then renamed)")
      ->required();
  command->add_flag("--force", args->force, "Replace OUT if it exists");
  command->add_option("--db", options.db_path,
                      "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  command->callback([&options, &exit_code, args] { exit_code = RunBackup(options, *args); });
}

}  // namespace farmctl
