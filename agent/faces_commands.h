// farm-agent's one-shot face-ID commands (kernels/faceid), for people and for farmctl,
// which runs them as child processes and reads their --json output:
//   farm-agent faces detect IMAGE [--json] [--draw OUT.png] [--min-confidence 0.5]
//   farm-agent faces embed IMAGE... [--json]
//   farm-agent faces compare A B [--json]
// Models: --models-dir ROOT (default $STUDIOFARM_MODELS, else ~/.cache/studiofarm/models);
// the face-api weights are read from ROOT/face-api/model (or ROOT itself when it holds
// them). The JSON shapes are documented in docs/faceid.md.
// Exit codes: 0 ok, 1 failure, 2 usage.
#pragma once

#include <CLI/CLI.hpp>

namespace farm::agent {

// Registers `faces` and its subcommands on `app`. After parsing, RunFacesCommand runs the
// one given and returns the exit code, or -1 when `faces` was not given.
void AddFacesCommands(CLI::App& app);
int RunFacesCommand(const CLI::App& app);

}  // namespace farm::agent
