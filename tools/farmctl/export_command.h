// farmctl export RENDER... | --where EXPR [--sweep S] -o DIR: copies renders out of the
// farm: <id>-<hash8>.png (the stored PNG, its parameters chunk included) with
// <id>-<hash8>.json beside it (params, scores, the A1111 text) and, when the farm kept
// them, the stage images as <id>-<hash8>/<stage>.png. A file already there with the same
// bytes is left alone; one with other bytes is never overwritten (it is named and the
// command exits 1). A render that does not exist or has no image refuses the whole export
// before anything is written. Reads the database read-only.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

void AddExportCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
