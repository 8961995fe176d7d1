// farmctl report SWEEP -o report.html [--group-by ROWS,COLUMNS] [--thumb PX] [--best K]
//   [--max-thumbs N] [--threshold T] [--agent PATH] [--artifacts DIR] [--thumb-cache DIR]
// One self-contained HTML page about a sweep (see report.h). Prints the file's size and the
// number of thumbnails embedded at the end ("report.html: 2.3 MB, 412 thumbnails"); with
// --json the same as an object. Reads the database read-only. Exit codes: 0 ok, 1 failed,
// 2 usage.
#pragma once

#include <string>

#include "cli_common.h"
#include "report.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers `report`; it sets `exit_code` when it runs. `options` and `exit_code` must
// outlive app.parse().
void AddReportCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

// The options `farmctl report` uses unless told otherwise, for a database at `db_path`:
// artifacts beside it, the build's farm-agent (or `agent_flag`), the user's thumbnail
// cache, one thumbnail process per core, the current time in the footer. For other verbs
// that write a report (farmctl nightly --report).
ReportOptions DefaultReportOptions(const std::string& db_path, const std::string& agent_flag);

// "2.3 MB", "12 kB", "512 bytes".
std::string HumanSize(std::int64_t bytes);

}  // namespace farmctl
