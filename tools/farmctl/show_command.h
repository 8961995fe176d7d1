// farmctl show RENDER: everything about one render — its params (every field), the recipe
// record (stages as applied), timings (each attempt's seconds per stage), scores (every
// scores row and every sweep's result), files (image, faces, record, stage images: absolute
// paths under the artifact root), its A1111 parameters text and the `farmctl reproduce`
// line. --sweep picks the sweep whose result comes first. Reads the database read-only.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

void AddShowCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
