// farmctl train show JOB_OR_HASH: a training run as the farm recorded it (dataset, base
// checkpoint, hyper-parameters, world size, checkpoints with their hashes and face-ID
// scores, best step, and the loss / learning rate / gradient norm of its steps). Reads
// the database read-only, like the other query verbs.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

void AddTrainCommands(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
