// farmctl report SWEEP -o report.html [--group-by ROWS,COLUMNS] [--thumb PX] [--best K]
//   [--max-thumbs N] [--threshold T] [--agent PATH] [--artifacts DIR] [--thumb-cache DIR]
// One self-contained HTML page about a sweep (see report.h). Prints the file's size and the
// number of thumbnails embedded at the end ("report.html: 2.3 MB, 412 thumbnails"); with
// --json the same as an object. Reads the database read-only. Exit codes: 0 ok, 1 failed,
// 2 usage.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers `report`; it sets `exit_code` when it runs. `options` and `exit_code` must
// outlive app.parse().
void AddReportCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
