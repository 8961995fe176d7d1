// farmctl effects SWEEP: what the sweep's parameters do to the face-ID score. For every
// parameter that varies, the mean score per value with a 95 % interval and n, and the
// parameters ranked by effect size (eta squared: the share of the score's variance the
// parameter explains alone); parameters with one value are listed as constant. With
// exactly two --by parameters, a two-way table of mean score (and n) per cell. Always the
// per-pose success rate: renders with a face and score >= --threshold among the scored
// ones, with Wilson intervals. Reads the database read-only. Exit codes: 0 ok, 1 failed,
// 2 usage (including a refused --where or --by column).
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

void AddEffectsCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
