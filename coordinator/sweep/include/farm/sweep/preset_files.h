// Reading spec inputs from the local filesystem, for the programs' main() functions
// (farmctl, farmd). The rest of farm_sweep is pure and takes text.
#pragma once

#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sweep/diagnostic.h"
#include "farm/sweep/presets.h"

namespace farm::sweep {

// The whole file as text. NotFound (with the path) when it cannot be read.
StatusOr<std::string> ReadTextFile(const std::string& path);

// Reads `config_dir`/tones.yaml and `config_dir`/pipelines.yaml into `presets`; a missing
// file means no presets of that kind. Problems inside the files are appended to
// `problems` (with file:line:column); the Status reports only unreadable files.
Status LoadPresetFiles(const std::string& config_dir, SpecPresets* presets,
                       std::vector<Diagnostic>* problems);

}  // namespace farm::sweep
