// farm-agent's one-shot engine commands, for debugging renders without the farm:
//   farm-agent render --checkpoint M --prompt ... -o out.png
//       [--controlnet CN.safetensors:hint.png[:scale[:start:end]]]...
//   farm-agent check-reference DIR
//   farm-agent make-tiny-model OUT --seed S
#pragma once

#include <CLI/CLI.hpp>

namespace farm::agent {

// Registers the subcommands on `app`. After parsing, RunEngineCommand runs the one that
// was given and returns the exit code, or -1 when none was.
void AddEngineCommands(CLI::App& app);
int RunEngineCommand(const CLI::App& app);

}  // namespace farm::agent
