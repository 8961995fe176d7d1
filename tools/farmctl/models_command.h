// farmctl models add|list|show|verify|rm: the models folder ($STUDIOFARM_MODELS, --models-dir)
// and its index (<models_dir>/index.json, farm/sweep/model_index.h), so specs can name a
// model as "models:NAME". `add` reads each file's safetensors header (never a pickle,
// never the tensors through a framework), detects its kind (model_kind.h), refuses what
// StudioFarm cannot render with, and hashes it (SHA-256 and A1111's AutoV2 short hash)
// unless the index already holds the same path with the same size and mtime.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

void AddModelsCommands(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
