// The validated, typed form of a sweep spec (see docs/sweep-spec.md for the YAML).
//
// A SweepSpec only exists when its YAML passed validation (ParseSweepSpec), so
// expansion can rely on every invariant documented here without re-checking.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/sweep/presets.h"

namespace farm::sweep {

// One value of a sweepable render parameter. Which alternative is used depends on the
// parameter: int64 for clip_skip/steps/lora_step, double for cfg/lora_weight/denoise,
// string for tone/sampler/pose/size/prompt/lora.
using GridValue = std::variant<std::int64_t, double, std::string>;

// Equality as a user means it: numbers compare by value (7 == 7.0), strings exactly.
bool SameGridValue(const GridValue& a, const GridValue& b);

// Shortest text that reads back as the same value ("7", "7.5", "DPM++ 2M Karras").
std::string GridValueText(const GridValue& value);

// A model file: by path (relative to the spec's folder, or "models:/..." under the
// models directory), by content hash, or both (the hash wins; the file is not read).
struct ModelRef {
  std::string path;
  std::string sha256;  // 64 lower-case hex digits, or empty
};

// A textual-inversion embedding: the word that calls it in a prompt and its file.
// Or, with `folder` set (name and file empty), every .safetensors under that folder
// named by its stem, as A1111's embeddings folder.
struct EmbeddingSpec {
  std::string name;
  ModelRef file;
  std::string folder;  // a spec path
};

struct IdentitySpec {
  std::string name;                 // identifier, recorded in train and score jobs
  std::vector<std::string> photos;  // globs, same path rules as ModelRef::path
  std::string token;                // instance token, e.g. "sks person"
  // `pick: largest`: a photo showing several people gives its largest face (else such a
  // photo is refused when the identity is stored).
  bool pick_largest = false;
};

// LoRA training. Every list holds at least one value; lists other than `steps` are
// crossed into training groups (one train job each), `steps` become save_steps.
struct TrainSpec {
  std::vector<int> steps;  // sorted ascending, unique, each > 0
  std::vector<int> rank;
  std::vector<double> alpha;
  std::vector<double> learning_rate;
  std::vector<int> batch_size;
  std::vector<int> resolution;
  std::vector<std::uint64_t> seed;
  int ranks = 1;   // data-parallel ranks of every train job: a gang lease of this many slots
  Settings extra;  // recorded verbatim in TrainParams::extra
};

// A swept parameter of the grid. Either independent (`values`) or dependent on another
// grid parameter (`by`): then `values_by_parent[i]` are its values when the parent takes
// its i-th value. Lists are non-empty and free of duplicates.
struct GridParam {
  std::string name;
  std::vector<GridValue> values;
  std::string by;
  std::vector<std::vector<GridValue>> values_by_parent;
};

// A combination to drop: it matches a point when, for every named parameter, the
// point's value is one of the listed values. Names are grid parameters or "lora_step".
struct ExcludeRule {
  std::vector<std::pair<std::string, std::vector<GridValue>>> match;
};

struct ScoreSpec {
  std::string metric;  // "cosine" or "euclidean"
};

// The regression gate of `farmctl nightly` (section `nightly:`; farmd does not use it):
// an evaluation run passes against its baseline when every limit holds.
struct NightlySpec {
  // The mean cosine may fall by at most this much, or by more when the paired delta's
  // 95 % interval still includes 0 and pass_if_ci_includes_zero is set.
  double max_mean_drop = 0.01;
  bool pass_if_ci_includes_zero = true;
  double max_face_rate_drop = 0.05;     // share of renders with a face, absolute
  double max_pose_success_drop = 0.25;  // per pose, absolute
  double success_threshold = 0.5;       // a pose success: a face with score >= this
};

// Successive halving over the grid's cells (a cell: every render parameter but the
// seed). Rung r renders the first seeds_per_rung[r] seeds of `seeds` for every cell
// still in the search; after a rung the cells are ranked by mean score and the best
// ceil(keep x n) go on. See halving.h.
struct SearchSpec {
  std::string method;                        // "halving"
  std::vector<std::int64_t> seeds_per_rung;  // cumulative: > 0, increasing, last <= seeds
  double keep = 0.5;                         // in (0, 1)
  std::string metric;                        // "cosine" (higher better) or "euclidean"
};

// The ControlNet used to pose renders: applied when a render has a pose.
struct PoseControl {
  ModelRef model;
  double weight = 1.0;
};

struct SweepSpec {
  std::string name;
  std::string description;
  std::string file_name;                 // as given to the parser; used in messages only
  int priority = 0;                      // higher runs first
  std::optional<std::int64_t> max_jobs;  // the spec's own cap, if it sets one

  IdentitySpec identity;
  ModelRef checkpoint;
  // `vae:`: a separate VAE file for every render (absent: the checkpoint's own).
  std::optional<ModelRef> vae;
  // `embeddings:`: textual-inversion embeddings every render may call by name; names
  // unique. Every render records all of them (name -> SHA-256), none: nothing recorded.
  std::vector<EmbeddingSpec> embeddings;
  std::optional<TrainSpec> train;  // absent: renders use the base checkpoint only
  // Existing LoRA files by name (`loras:`), never together with `train`. The render
  // parameter "lora" names one of them; expansion refers to the file by its content hash,
  // so the name never reaches a job.
  std::map<std::string, ModelRef> loras;

  // Template with placeholders {token}, {tone}, {pose}; the prompt itself is the
  // parameter "prompt" (in `fixed` or swept in `grid`).
  std::string negative_prompt;
  std::vector<std::uint64_t> seeds;  // unique, in the order given
  std::optional<PoseControl> pose_control;
  // Values of parameters that are not swept (e.g. cfg: 7), keyed by parameter name.
  // Every parameter a render needs is either here or in `grid`.
  std::map<std::string, GridValue> fixed;

  // In declaration order; a dependent parameter comes after the one it depends on.
  std::vector<GridParam> grid;
  std::vector<std::vector<std::string>> zip;  // each group: >= 2 independent grid names
  std::vector<ExcludeRule> exclude;

  std::vector<StageSettings> stages;  // after txt2img, in order
  std::optional<NightlySpec> nightly;  // the gate of farmctl nightly
  std::optional<ScoreSpec> score;  // always set with `search` (same metric)
  std::optional<SearchSpec> search;

  // Tone presets with the spec's inline `tones:` merged over the preset file.
  TonePresets tones;
};

}  // namespace farm::sweep
