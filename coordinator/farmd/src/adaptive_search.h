// Sweeps with `search:` (successive halving, farm/sweep/halving.h) run rung by rung:
// SubmitSweep creates the first rung; when every job of the sweep has finished, the
// completion check calls AdvanceSearch, which ranks the cells and adds the next rung's
// renders and score jobs for the survivors, or says the search is over.
//
// No state lives in memory: where a search stands is read from the database (the
// sweep's stored spec, its render_results rows with their scores), so a farmd killed
// between rungs adds the due rung after its restart (the restored sweep is checked).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "farm/scheduler/scheduler.h"
#include "farm/schemas/status.h"
#include "farm/store/store.h"

namespace farm::farmd {

// Where a search stands, for logs and the API.
struct SearchProgress {
  int rung = 0;   // newest rung with renders, 0-based
  int rungs = 0;  // rungs of the plan
  std::vector<std::int64_t> cells_per_rung;  // cells that reached each rung so far
  std::int64_t renders = 0;                  // renders of the sweep
  std::int64_t renders_full = 0;             // the full grid: every cell at the last rung's seeds
  std::int64_t jobs = 0;                     // the sweep's jobs
  std::int64_t jobs_full = 0;                // its jobs had it rendered the full grid
  double saved_percent() const;              // of jobs_full
  // "rung 2/3, cells 12 -> 6 -> 3, 84 of 192 renders, 170 of 386 jobs (56.0% fewer than
  // the full grid)".
  std::string Summary() const;
};

// Whether a stored spec text has a search: section (a cheap look before parsing).
bool IsSearchSpec(const std::string& spec_yaml);

// For the API (polled): renders per cell counted by SQLite, records not parsed. NotFound
// when the sweep has no search: section.
StatusOr<SearchProgress> ReadSearchProgress(store::Store& store, std::int64_t sweep_id);

struct SearchStep {
  bool added = false;  // the next rung's jobs were created
  int jobs_created = 0;
  SearchProgress progress;  // after the step
};

// The sweep's jobs have all finished: adds the next rung (Store::InsertJobs into the
// sweep, then Scheduler::SubmitJobs), or, after the last rung, logs the saving and
// returns added = false. NotFound when the sweep has no search: section. Runs inside the
// caller's write transaction when one is open.
StatusOr<SearchStep> AdvanceSearch(store::Store& store, scheduler::Scheduler& scheduler,
                                   std::int64_t sweep_id);

}  // namespace farm::farmd
