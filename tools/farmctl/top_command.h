// farmctl top SWEEP -k 20: the sweep's best renders by face-ID score (cosine, highest
// first; unscored renders left out), each with its A1111 "parameters" text as a plain
// block to copy into a front end, and the image's path. --where narrows them with the
// query language of `farmctl renders`. Reads the database read-only.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

void AddTopCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
