#include "report_command.h"

#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "farm/store/store.h"
#include "program_path.h"
#include "report.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;

struct ReportArgs {
  std::int64_t sweep_id = 0;
  std::string output;
  std::string group_by = "pose,tone";
  std::string agent_path;
  std::string artifacts;
  std::string thumb_cache;
  ReportOptions report;
};

}  // namespace

std::string HumanSize(std::int64_t bytes) {
  char text[32];
  if (bytes >= 1000 * 1000) std::snprintf(text, sizeof text, "%.1f MB", bytes / 1e6);
  else if (bytes >= 1000) std::snprintf(text, sizeof text, "%.0f kB", bytes / 1e3);
  else std::snprintf(text, sizeof text, "%lld bytes", static_cast<long long>(bytes));
  return text;
}

namespace {

std::string NowText() {
  const time_t now = ::time(nullptr);
  struct tm utc;
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return text;
}

// $STUDIOFARM_CACHE/thumbnails, else ~/.cache/studiofarm/thumbnails (farm-agent's cache root).
std::string DefaultThumbCache() {
  if (const char* cache = std::getenv("STUDIOFARM_CACHE"); cache && *cache) {
    return (fs::path(cache) / "thumbnails").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : "/tmp") / ".cache" / "studiofarm" / "thumbnails").string();
}

int Run(const GlobalOptions& options, ReportArgs& args) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  const auto comma = args.group_by.find(',');
  if (comma == std::string::npos || args.group_by.find(',', comma + 1) != std::string::npos) {
    std::cerr << "farmctl report: --group-by takes two parameters, ROWS,COLUMNS (e.g. pose,tone); got '"
              << args.group_by << "'\n";
    return kExitUsage;
  }
  args.report.group_rows = args.group_by.substr(0, comma);
  args.report.group_columns = args.group_by.substr(comma + 1);
  const ReportOptions defaults = DefaultReportOptions(path, args.agent_path);
  args.report.agent_path = defaults.agent_path;
  args.report.artifact_root = args.artifacts.empty() ? defaults.artifact_root : args.artifacts;
  args.report.thumb_cache_dir = args.thumb_cache.empty() ? defaults.thumb_cache_dir : args.thumb_cache;
  args.report.generated_at = defaults.generated_at;
  args.report.thumb_processes = defaults.thumb_processes;

  auto store = farm::store::Store::Open(path, farm::store::OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto summary = WriteSweepReport(**store, args.sweep_id, args.report, args.output);
  if (!summary.ok()) {
    if (summary.status().code() == farm::StatusCode::kInvalidArgument && !options.json) {
      std::cerr << "farmctl " << summary.status().message() << "\n";
      return kExitUsage;
    }
    return ReportError(options, summary.status());
  }
  for (const std::string& warning : summary->warnings) std::cerr << "farmctl report: " << warning << "\n";
  if (summary->thumbnail_failures > static_cast<int>(summary->warnings.size())) {
    std::cerr << "farmctl report: " << summary->thumbnail_failures << " images without a thumbnail in all\n";
  }
  if (options.json) {
    std::cout << nlohmann::ordered_json({{"ok", true},
                                         {"path", args.output},
                                         {"bytes", summary->bytes},
                                         {"renders", summary->renders},
                                         {"thumbnails", summary->thumbnails},
                                         {"thumbnails_left_out", summary->thumbnails_left_out},
                                         {"thumbnail_failures", summary->thumbnail_failures}})
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << args.output << ": " << HumanSize(summary->bytes) << ", " << summary->thumbnails << " thumbnails";
  if (summary->thumbnails_left_out > 0) {
    std::cout << " (" << summary->thumbnails_left_out << " renders left out of the contact sheet)";
  }
  std::cout << ", " << summary->renders << " renders\n";
  return kExitOk;
}

}  // namespace

ReportOptions DefaultReportOptions(const std::string& db_path, const std::string& agent_flag) {
  ReportOptions options;
  options.agent_path = FindAgentProgram(agent_flag);
  options.artifact_root = (fs::path(db_path).parent_path() / "artifacts").string();
  options.thumb_cache_dir = DefaultThumbCache();
  options.generated_at = NowText();
  options.thumb_processes = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  return options;
}

void AddReportCommand(CLI::App& app, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* report = app.add_subcommand(
      "report",
      "One self-contained HTML page about a sweep: summary, effects plots, contact sheets of "
      "thumbnails grouped by two parameters, best and worst renders");
  report->add_option("SWEEP_ID", args->sweep_id, "Sweep id")->required()->check(CLI::PositiveNumber);
  report->add_option("-o,--output", args->output, "HTML file to write")->required();
  std::string names;
  for (const std::string& name : ReportGroupParameters()) names += (names.empty() ? "" : ", ") + name;
  report->add_option("--group-by", args->group_by,
                     "Contact sheet rows,columns (two of: " + names + ")")
      ->capture_default_str();
  report->add_option("--thumb", args->report.thumb_size, "Thumbnail size: longest side in pixels")
      ->check(CLI::Range(16, 1024))
      ->capture_default_str();
  report->add_option("--best", args->report.best, "Best and worst renders shown (0: none)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  report->add_option("--max-thumbs", args->report.max_sheet_thumbnails,
                     "Thumbnails in the contact sheet at most (the rest are counted as left out)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  report->add_option("--threshold", args->report.success_threshold,
                     "Pose success: a face found and cosine >= this")
      ->capture_default_str();
  report->add_option("--seed", args->report.seed, "Bootstrap seed of the intervals")->capture_default_str();
  report->add_option("--agent", args->agent_path, "farm-agent that makes thumbnails (default: the build's)");
  report->add_option("--artifacts", args->artifacts,
                     "Artifact root of the farm (default: 'artifacts' next to the database)");
  report->add_option("--thumb-cache", args->thumb_cache,
                     "Thumbnail cache folder (default: $STUDIOFARM_CACHE/thumbnails or "
                     "~/.cache/studiofarm/thumbnails)");
  report->add_option("--db", options.db_path,
                     "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  report->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
