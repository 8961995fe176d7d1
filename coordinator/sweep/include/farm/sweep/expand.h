// SweepSpec -> the jobs the farm runs: train, render and score records with their
// canonical JSON and param_hash. Pure: hashes of files come from a SpecResolver.
//
// Order (deterministic; the same spec gives the same jobs in the same order):
//   prepare jobs, one per distinct PrepareParams (per training resolution), in order of
//   first use; every train job depends on its prepare job (prepare_param_hash);
//   train jobs, in training-group order (rank, alpha, learning_rate, batch_size,
//   resolution, seed; last varies fastest); one per group, saving every step, or, when
//   train.extra.lr_scheduler depends on the total steps (linear, cosine), one per group
//   and step (save_steps = [that step]);
//   render jobs: training group, then lora_step, then grid parameters in declaration
//   order (zip groups move together; last varies fastest), then seeds;
//   score jobs, one per render, in render order.
// A render's LoRA is "train:<train job param_hash>@<lora_step>" (depending on that train
// job) or, with `loras:`, "sha256:<file hash>" (depending on nothing). A render whose
// lora_weight is 0 carries no LoRA, so it is the same render for every training group,
// step and loras: entry and is kept once (its first occurrence). Any other two jobs with
// the same param_hash also collapse into the first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"
#include "farm/sweep/resolver.h"
#include "farm/sweep/spec.h"

namespace farm::sweep {

// Default cap on the jobs one spec may expand to, against accidental explosions.
inline constexpr std::int64_t kDefaultMaxJobs = 100000;

struct ExpandOptions {
  // Overrides the spec's `max_jobs`; without either the cap is kDefaultMaxJobs.
  std::optional<std::int64_t> max_jobs;
};

// The values one swept parameter takes (in the grid's order, as text).
struct ParameterValues {
  std::string name;  // grid parameter, "lora_step" or "seed"
  std::vector<std::string> values;
};

// Jobs by kind, for the counts of a search.
struct JobTotals {
  std::int64_t prepare = 0;
  std::int64_t train = 0;
  std::int64_t render = 0;
  std::int64_t score = 0;
  std::int64_t total() const { return prepare + train + render + score; }
};

// The counts of a spec with `search:` (see halving.h). ExpansionCount's own counts are
// the first rung's jobs, the ones submitted at once.
struct SearchCount {
  std::int64_t cells = 0;                  // grid cells (renders per seed)
  std::vector<std::int64_t> cells_per_rung;  // expected: each rung keeps its share
  JobTotals maximum;   // the full grid at the last rung's seeds
  JobTotals expected;  // every rung with the kept fraction of cells
};

struct ExpansionCount {
  std::int64_t prepare = 0;
  std::int64_t train = 0;
  std::int64_t render = 0;
  std::int64_t score = 0;
  std::int64_t total() const { return prepare + train + render + score; }
  std::vector<ParameterValues> parameters;  // lora_step, grid parameters, seed
  // What a user should know about how the spec expands (e.g. steps that cannot share a
  // training run).
  std::vector<std::string> notes;
  std::optional<SearchCount> search;  // set for a spec with search:
};

// In the order of SweepJob::params' alternatives.
enum class JobKind { kTrain, kRender, kScore, kPrepare };
const char* JobKindName(JobKind kind);  // "train", "render", "score", "prepare"

struct SweepJob {
  std::variant<TrainParams, RenderParams, ScoreParams, PrepareParams> params;
  std::string params_json;  // canonical JSON of `params`
  std::string param_hash;
  std::vector<std::size_t> depends_on;  // indices into ExpandedSweep::jobs, all smaller
  int priority = 0;                     // the spec's priority

  JobKind kind() const { return static_cast<JobKind>(params.index()); }
};

// How many renders took each value of a swept parameter.
struct ValueCount {
  std::string value;
  std::int64_t renders = 0;
};
struct ParameterCounts {
  std::string name;
  std::vector<ValueCount> counts;
};

struct ExpandedSweep {
  std::string name;
  std::vector<SweepJob> jobs;
  ExpansionCount count;  // exact counts of `jobs`
  std::vector<ParameterCounts> value_counts;
  // Per training group, the indices of its train jobs in `jobs` (one, or one per step).
  std::vector<std::vector<std::size_t>> train_jobs;
};

// Counts the jobs without building them and without a resolver. For a spec with
// search:, the counts are those of the first rung (what ExpandSweep builds) and `search`
// has the maximum and expected counts over every rung. Equals what ExpandSweep
// produces, except when two different prompt templates of a grid expand to the same
// text, or two loras: entries are the same file under different paths (then the count
// is an upper bound). Fails only when the parameters tied together by exclusions and
// dependencies are too many even to walk.
StatusOr<ExpansionCount> CountJobs(const SweepSpec& spec);

// Builds every job; for a spec with search: the first rung's (its first
// seeds_per_rung[0] seeds; farmd adds the later rungs), with the cap checked against the
// maximum over every rung. Refuses with InvalidArgument (giving the count and the cap) before
// building anything when the count exceeds the cap; passes on resolver errors with the
// section as context (e.g. "loras.face_v1"). Only loras: entries that some render
// carries are resolved.
StatusOr<ExpandedSweep> ExpandSweep(const SweepSpec& spec, SpecResolver& resolver,
                                    const ExpandOptions& options = {});

}  // namespace farm::sweep
