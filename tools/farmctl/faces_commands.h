// farmctl faces detect|embed|compare: face ID on image files. farmctl links no numeric
// library: each verb runs `farm-agent faces ...` (found like `farmctl run` finds it, or
// --agent PATH) and passes its output and exit code through. The JSON of --json is the
// agent's, documented in docs/faceid.md.
//   detect IMAGE [--draw OUT.png] [--min-confidence 0.5]   boxes, scores, 68 landmarks
//   embed IMAGE... [--min-confidence 0.5]                  + 128-d descriptors per face
//   compare A B                                             distance, cosine, same person
// The global --models-dir (default $STUDIOFARM_MODELS) is handed to the agent.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers `faces`; the subcommand that runs sets `exit_code`. `options` and `exit_code`
// must outlive app.parse().
void AddFacesCommands(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
