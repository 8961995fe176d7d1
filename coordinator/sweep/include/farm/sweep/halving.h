// Successive halving over a sweep's grid cells (spec section `search:`), as pure
// functions of what has been rendered and scored, so that farmd can decide the next rung
// from the database alone (after a restart too) and tests can check it with made-up
// scores.
//
// A cell is a render record without its seed: every parameter (training group, LoRA
// step, grid values, ...) but the seed. Every cell draws from the same seed list, the
// spec's render.seeds in the order given; rung r renders the first seeds_per_rung[r] of
// them (cumulative: a survivor of rung r-1 adds seeds [seeds_per_rung[r-1],
// seeds_per_rung[r])). After a rung the cells are ranked by mean score over their
// renders of that rung, and the best ceil(keep x n) (at least one) go on to the next.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/sweep/spec.h"

namespace farm::sweep {

// What a stored spec's search needs: the section and the seeds it draws from.
struct SearchPlan {
  SearchSpec search;
  std::vector<std::uint64_t> seeds;  // render.seeds, in the order given
};

// Reads search:, score: and render.seeds of a spec text that ParseSweepSpec accepted
// (a sweep's stored spec), needing no presets and no files. NotFound when the spec has no
// search: section; InvalidArgument (diagnostics) when those sections are invalid.
StatusOr<SearchPlan> ReadSearchPlan(std::string_view yaml, std::string_view file_name);

// "halving over seeds per rung [2, 4, 8], keep 0.5, by cosine".
std::string DescribeSearch(const SearchSpec& search);

// ceil(keep x cells), at least 1 (0 for no cells); keep x cells is rounded to 1e-9 first
// so that 0.3 x 10 keeps 3, not 4.
std::int64_t CellsKept(std::int64_t cells, double keep);
// Cells rendered in each rung when the first rung has `cells` and each keeps its share.
std::vector<std::int64_t> CellsPerRung(std::int64_t cells, const SearchSpec& search);
// Renders over every rung for those cell counts: sum of cells[r] x (seeds[r] - seeds[r-1]).
std::int64_t RendersOverRungs(const std::vector<std::int64_t>& cells, const SearchSpec& search);

// One cell: its renders so far, by seed (nullopt: the render failed, showed no face or
// was not scored).
struct CellScores {
  std::string key;  // names the cell; equal scores are ordered by it (ascending)
  std::map<std::uint64_t, std::optional<double>> scores;
};

struct RankedCell {
  std::size_t cell = 0;  // index into the cells given
  double mean = 0;       // missing scores counted as the worst value
  int missing = 0;       // renders without a score
};

// The value a render without a score counts as: -1 for cosine (its minimum); for
// euclidean the largest of 2 (opposite unit vectors) and every distance in `cells`.
double WorstScore(std::string_view metric, const std::vector<CellScores>& cells);

// Ranks `cells` (those indexed by `which`) by the mean over `seeds` of each one's scores,
// best first (cosine: highest; euclidean: lowest), ties by key. A seed a cell lacks counts
// as a missing score.
std::vector<RankedCell> RankCells(const std::vector<CellScores>& cells,
                                  const std::vector<std::size_t>& which,
                                  const std::vector<std::uint64_t>& seeds,
                                  std::string_view metric);

// Where a search stands and what comes next.
struct RungDecision {
  int rung = 0;                         // the newest rung that has renders (0-based)
  std::vector<std::size_t> in_rung;     // cells that reached it
  std::vector<RankedCell> ranking;      // those cells, best first
  std::vector<std::size_t> survivors;   // cells that go on (best first); empty after the last rung
  std::vector<std::uint64_t> new_seeds; // seeds each survivor adds; empty after the last rung
  bool last = false;                    // `rung` is the last one: the search is over
};

// Decides from the cells' renders (all of them finished) which rung was run, the
// ranking, and what the next rung adds. FailedPrecondition when a cell's seeds are not
// the first seeds_per_rung[r] of the plan's seeds for some rung (the data does not come
// from this plan); InvalidArgument for no cells.
StatusOr<RungDecision> DecideRung(const SearchPlan& plan, const std::vector<CellScores>& cells);

}  // namespace farm::sweep
