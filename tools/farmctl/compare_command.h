// farmctl compare A B: two sets of renders compared on the face-ID score. A and B are each
// a sweep (a bare id "3", or "sweep:NAME") or a render filter in the `--where` language
// ("sampler = 'Euler a' AND cfg >= 6"; over --sweep when given, else every sweep).
// For each side: renders, mean score with a percentile-bootstrap interval, face-found rate
// with a Wilson interval; the delta B - A with a bootstrap interval (independent
// resampling); and, when renders pair up, a paired comparison: renders are paired on every
// parameter whose set of values is the same on both sides (seed, pose, prompt, ...), i.e.
// all but what distinguishes A from B; when no parameter differs (the same renders
// evaluated twice) on param_hash. The output names the pairing and counts what did not
// pair. Seeded: the same data and --seed give the same intervals.
// Reads the database read-only. Exit codes: 0 ok, 1 failed, 2 usage or a refused filter.
#pragma once

#include "cli_common.h"

namespace CLI {
class App;
}

namespace farmctl {

void AddCompareCommand(CLI::App& app, GlobalOptions& options, int& exit_code);

}  // namespace farmctl
