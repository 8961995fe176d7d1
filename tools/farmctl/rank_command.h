// farmctl rank SWEEP_ID: the sweep's renders ranked by their face-ID score against an
// identity, best first: cosine similarity descending (the default metric) or Euclidean
// distance ascending. Columns: render id, seed, sampler, cfg, clip skip, pose, tone,
// similarity, faces. Renders whose score is NULL (no usable face) come after the scored
// ones with the stored reason; renders without a score row come last ("not scored").
// Where a render has scores of several descriptor model versions the newest row counts.
// --identity may be left out when the sweep's scores name only one identity.
// Reads the database read-only. Exit codes: 0 ok, 1 failed, 2 usage.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

// Registers `rank`; it sets `exit_code` when it runs. `options` and `exit_code` must
// outlive app.parse().
void AddRankCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
