// Builds sweeps with face-ID scores through the Store API (CreateSweep with render jobs
// and one score job, then InsertScores), for the compare/effects command tests and
// tools/bench/effects_bench.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"

namespace farm::store {
class Store;
}

namespace farmctl_test {

struct ScoredRender {
  farm::RenderParams params;
  std::optional<double> score;  // unset: no face found
};

// A render record every fixture starts from: one checkpoint and LoRA, seed 42.
farm::RenderParams BaseRender();

// Creates a sweep of `renders` (a record already in the store is shared, as farmd does)
// with one identity "ana" (created on first use) and stores each render's score from this
// sweep's score job. Returns the sweep id.
farm::StatusOr<std::int64_t> AddScoredSweep(farm::store::Store& store, const std::string& name,
                                            const std::vector<ScoredRender>& renders);

}  // namespace farmctl_test
