// The canonical parameter record of every job the farm runs, and its param_hash.
//
// The record is the single definition that coordinator and agent share: the coordinator
// derives it from a sweep spec and stores it; the agent renders from exactly this
// record. Same param_hash => same pixels on the same device type and precision, so every
// input that can change a pixel belongs here, and nothing else does (no paths, names or
// timestamps: models are referenced by the SHA-256 of their file contents).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "farm/schemas/status.h"

namespace farm {

// Bumped when the meaning of a field changes; part of every record.
inline constexpr int kRecordVersion = 1;

// Engine identity recorded in every render (pixels may change between engine versions).
inline constexpr char kEngineVersion[] = "studiofarm-sd/1";
// Initial noise comes from a seeded CPU generator, independent of the GPU type.
inline constexpr char kDefaultRng[] = "cpu";

using SettingValue = std::variant<bool, std::int64_t, double, std::string>;
using Settings = std::map<std::string, SettingValue>;

// A LoRA applied to a render. `ref` names its weights by content:
//   "sha256:<hex>"              a LoRA file given in the spec;
//   "train:<param_hash>@<step>" the checkpoint at <step> of a training job of the sweep.
struct LoraRef {
  std::string ref;
  double weight = 1.0;
};

// A ControlNet unit: model by content hash, its conditioning input, scale and the
// fraction of the sampling schedule it is active for.
struct ControlNetUnit {
  std::string model_sha256;
  std::string input;  // e.g. "pose:<name>" or "tile"
  double weight = 1.0;
  double guidance_start = 0.0;
  double guidance_end = 1.0;
};

// One pipeline stage after txt2img (detailer, img2img, upscale, tone) and its settings.
struct StageSettings {
  std::string kind;
  Settings settings;
};

struct RenderParams {
  std::string prompt;           // after template expansion, with tone tokens
  std::string negative_prompt;
  std::uint64_t seed = 0;
  std::string sampler;          // k-diffusion sampler: "Euler", "Euler a", "DPM++ 2M", ...
  std::string scheduler;        // sigma schedule: "normal" or "karras"
  int steps = 25;
  double cfg = 7.0;
  int clip_skip = 1;
  int width = 512;
  int height = 768;
  std::string pose;             // pose library name, empty for none
  std::string tone;             // tone preset name, empty for none
  double denoise = 1.0;         // 1.0 for txt2img
  std::string checkpoint_sha256;
  // A separate VAE file that replaces the checkpoint's; empty: the checkpoint's own. The
  // canonical JSON has "vae" only when set, so records without one keep their param_hash.
  std::string vae_sha256;
  // Textual-inversion embeddings the prompts may call: name (the word in the prompt) ->
  // SHA-256 of the file. The canonical JSON has "embeddings" only when there are some,
  // so records without them keep their param_hash.
  std::map<std::string, std::string> embeddings;
  std::vector<LoraRef> loras;
  std::vector<ControlNetUnit> controlnets;
  std::vector<StageSettings> stages;
  std::string engine = kEngineVersion;
  std::string rng = kDefaultRng;
};

// A photo of an identity: where the spec put it and what its bytes hash to. `path` is
// relative to the models directory (the part after "models:/"), or absolute when the
// spec gave an absolute path (or a path relative to the spec's folder).
struct PreparePhoto {
  std::string path;
  std::string sha256;
};

// Preparation of one identity's photos into a training dataset (face crops, captions,
// latents). Photos are sorted by sha256 in the canonical JSON, so their order in the
// spec does not change the hash.
struct PrepareParams {
  std::string identity;
  std::string instance_token;
  std::vector<PreparePhoto> photos;
  double crop_ratio = 3.0;  // square side / face box side (EasyPhoto's region)
  int resolution = 512;     // the training resolution
  std::string caption_template = "a photo of {token}";
  bool pick_largest = false;  // identity pick: largest
};

// LoRA training of one identity on one base checkpoint. One job trains to the largest
// requested step count and saves a checkpoint at every step in `save_steps`, so a study
// over steps costs one training run.
struct TrainParams {
  std::string identity;          // identity name
  std::string photos_sha256;     // digest of the identity's photo set (see PhotoSetDigest)
  std::string instance_token;    // e.g. "sks person"
  std::string checkpoint_sha256;
  std::vector<int> save_steps;   // sorted, unique; the last is the number of steps trained
  int rank = 16;
  double alpha = 8.0;
  double learning_rate = 1e-4;
  int batch_size = 1;
  int resolution = 512;
  std::uint64_t seed = 0;
  int ranks = 1;                 // data-parallel ranks (the train job's gang size); the
                                 // global batch is ranks x batch_size, so it is part of the record
  Settings extra;                // further trainer settings, recorded verbatim
  std::string prepare_param_hash;  // the prepare job whose dataset this trains on
};

// Face-ID scoring of one render against one identity.
struct ScoreParams {
  std::string render_param_hash;
  std::string identity;
  std::string photos_sha256;
  std::string metric;  // "cosine" or "euclidean"
};

// Canonical JSON of each record (see canonical_json.h for the byte rules).
StatusOr<std::string> ToCanonicalJson(const RenderParams& params);
StatusOr<std::string> ToCanonicalJson(const PrepareParams& params);
StatusOr<std::string> ToCanonicalJson(const TrainParams& params);
StatusOr<std::string> ToCanonicalJson(const ScoreParams& params);

// Parses a canonical (or any equivalent) JSON record back. InvalidArgument names the
// offending field.
StatusOr<RenderParams> RenderParamsFromJson(std::string_view json_text);
StatusOr<PrepareParams> PrepareParamsFromJson(std::string_view json_text);

// SHA-256 hex of the canonical JSON.
StatusOr<std::string> ParamHash(const RenderParams& params);
StatusOr<std::string> ParamHash(const PrepareParams& params);
StatusOr<std::string> ParamHash(const TrainParams& params);
StatusOr<std::string> ParamHash(const ScoreParams& params);

// Digest of a set of photos: SHA-256 over the sorted list of the photos' SHA-256 hex
// digests joined by '\n'. Independent of file names and order.
std::string PhotoSetDigest(std::vector<std::string> photo_sha256s);

}  // namespace farm
