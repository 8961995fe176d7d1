#include "db_commands.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "db_backup.h"
#include "farm/store/store.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using farm::store::MigrateResult;
using farm::store::OpenMode;
using farm::store::Store;
using farm::store::StoreOptions;
using Json = nlohmann::ordered_json;

// The database path, or a usage error when neither --db nor a default is known.
bool ResolvePath(const GlobalOptions& options, std::string* path, int* exit_code) {
  *path = EffectiveDbPath(options);
  if (!path->empty()) return true;
  ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  *exit_code = kExitUsage;
  return false;
}

void PrintJson(const Json& out) { std::cout << out.dump(2) << "\n"; }

Json MigrationJson(const std::string& path, const MigrateResult& migration) {
  return {{"ok", true},
          {"path", path},
          {"from_version", migration.from_version},
          {"to_version", migration.to_version},
          {"applied", migration.applied}};
}

std::string AppliedList(const MigrateResult& migration) {
  std::string list;
  for (const std::string& name : migration.applied) list += (list.empty() ? "" : ", ") + name;
  return list;
}

int RunInit(const GlobalOptions& options) {
  std::string path;
  int exit_code = kExitOk;
  if (!ResolvePath(options, &path, &exit_code)) return exit_code;
  std::error_code error;
  const bool existed = fs::exists(path, error) && fs::file_size(path, error) > 0;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent, error)) {
    // init is the one command that sets a farm up from nothing, directory included.
    if (!fs::create_directories(parent, error)) {
      return ReportError(options, farm::Unavailable(path + ": cannot create directory " +
                                                    parent.string() + ": " + error.message()));
    }
  }
  auto store = Store::Open(path, OpenMode::kReadWrite);
  if (!store.ok()) return ReportError(options, store.status());
  const MigrateResult& migration = (*store)->migration_at_open();
  if (options.json) {
    Json out = MigrationJson(path, migration);
    out["created"] = !existed;
    PrintJson(out);
  } else if (!existed) {
    std::cout << path << ": created farm database at schema version " << migration.to_version
              << "\n";
  } else if (migration.applied.empty()) {
    std::cout << path << ": already a farm database at schema version " << migration.to_version
              << "; nothing to do\n";
  } else {
    std::cout << path << ": migrated from schema version " << migration.from_version << " to "
              << migration.to_version << " (" << AppliedList(migration) << ")\n";
  }
  return kExitOk;
}

int RunMigrate(const GlobalOptions& options) {
  std::string path;
  int exit_code = kExitOk;
  if (!ResolvePath(options, &path, &exit_code)) return exit_code;
  StoreOptions store_options;
  store_options.create_if_missing = false;  // a typo in --db must not create a new farm
  auto store = Store::Open(path, OpenMode::kReadWrite, store_options);
  if (!store.ok()) return ReportError(options, store.status());
  const MigrateResult& migration = (*store)->migration_at_open();
  if (options.json) {
    PrintJson(MigrationJson(path, migration));
  } else if (migration.applied.empty()) {
    std::cout << path << ": up to date at schema version " << migration.to_version << "\n";
  } else {
    std::cout << path << ": migrated from schema version " << migration.from_version << " to "
              << migration.to_version << " (" << AppliedList(migration) << ")\n";
  }
  return kExitOk;
}

int RunInfo(const GlobalOptions& options) {
  std::string path;
  int exit_code = kExitOk;
  if (!ResolvePath(options, &path, &exit_code)) return exit_code;
  auto store = Store::Open(path, OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto info = (*store)->Info();
  if (!info.ok()) return ReportError(options, info.status());
  const std::int64_t bytes = info->page_count * info->page_size;
  if (options.json) {
    Json tables = Json::object();
    for (const auto& [table, rows] : info->row_counts) tables[table] = rows;
    PrintJson({{"ok", true},
               {"path", info->path},
               {"schema_version", info->schema_version},
               {"latest_schema_version", info->latest_schema_version},
               {"journal_mode", info->journal_mode},
               {"page_count", info->page_count},
               {"page_size", info->page_size},
               {"size_bytes", bytes},
               {"tables", tables}});
    return kExitOk;
  }
  std::cout << std::left << std::setw(16) << "database" << info->path << "\n"
            << std::setw(16) << "schema version" << info->schema_version << " (this farmctl knows "
            << info->latest_schema_version << ")\n"
            << std::setw(16) << "journal mode" << info->journal_mode << "\n"
            << std::setw(16) << "size" << info->page_count << " pages x " << info->page_size
            << " bytes = " << std::fixed << std::setprecision(1)
            << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB\n\n"
            << std::setw(18) << "table" << std::right << std::setw(12) << "rows"
            << "\n";
  for (const auto& [table, rows] : info->row_counts) {
    std::cout << std::left << std::setw(18) << table << std::right << std::setw(12) << rows << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddDbCommands(CLI::App& app, GlobalOptions& options, int& exit_code) {
  CLI::App* db = app.add_subcommand("db", "Create, migrate and inspect the farm database");
  db->require_subcommand(1);
  struct Verb {
    const char* name;
    const char* description;
    int (*run)(const GlobalOptions&);
  };
  const Verb verbs[] = {
      {"init", "Create the database (and its directory) and apply all migrations", RunInit},
      {"migrate", "Apply pending schema migrations to an existing database", RunMigrate},
      {"info",
       "Show the database's schema version, journal mode, size and rows per table "
       "(read-only; safe while farmd runs)",
       RunInfo},
  };
  for (const Verb& verb : verbs) {
    CLI::App* command = db->add_subcommand(verb.name, verb.description);
    command->add_option("--db", options.db_path,
                        "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
    command->callback([&options, &exit_code, run = verb.run] { exit_code = run(options); });
  }
  AddDbBackupCommand(*db, options, exit_code);
}

}  // namespace farmctl
