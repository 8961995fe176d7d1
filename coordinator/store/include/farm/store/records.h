// Plain row structs of the farm database: what the store takes (New*) and returns.
//
// Times are milliseconds since the Unix epoch (UTC), stamped by the store's clock
// (StoreOptions::clock_ms). Ids are SQLite rowids (> 0); an id field of 0 in a New* struct
// means "none". Digests are 64 lower-case hex characters. No SQLite type appears here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"

namespace farm::store {

enum class SweepState { kQueued, kRunning, kPaused, kSucceeded, kFailed, kCancelled };
enum class JobKind { kPrepare, kTrain, kValidate, kRender, kScore, kSynthetic };
enum class JobState { kQueued, kLeased, kSucceeded, kFailed, kCancelled, kSkipped };
enum class AttemptOutcome { kSucceeded, kFailed, kExpired, kCancelled };
enum class AgentState { kOnline, kDraining, kOffline, kLost };

// The lower-case names stored in the database ("queued", "render", ...), and back.
// Parse* return InvalidArgument naming the value and the accepted ones.
const char* Name(SweepState value);
const char* Name(JobKind value);
const char* Name(JobState value);
const char* Name(AttemptOutcome value);
const char* Name(AgentState value);
StatusOr<SweepState> ParseSweepState(std::string_view name);
StatusOr<JobKind> ParseJobKind(std::string_view name);
StatusOr<JobState> ParseJobState(std::string_view name);
StatusOr<AttemptOutcome> ParseAttemptOutcome(std::string_view name);
StatusOr<AgentState> ParseAgentState(std::string_view name);

// ---- sweeps and jobs -------------------------------------------------------------------

// A job to create: its canonical record (params_json) and param_hash =
// Sha256Hex(params_json). The store trusts a given pair (ExpandSweep computed it; hashing
// it again would cost as much as the SQL) and only checks that the hash is 64 lower-case
// hex digits. For kind kRender, `render` must be set: the store fills the render row's
// typed columns from it and creates or shares the row (see Store::InsertJobs); such a
// job may leave params_json and param_hash empty for the store to compute them from
// `render`, and otherwise they must be exactly ToCanonicalJson(*render) and its hash.
struct NewJob {
  JobKind kind = JobKind::kSynthetic;
  std::string param_hash;
  std::string params_json;
  int priority = 0;
  std::vector<std::size_t> deps;       // indices of earlier jobs in the same call
  std::optional<RenderParams> render;  // kRender only
  // kRender only: render the record again even when a result exists or a job is on its
  // way (a nightly evaluation); the new job serves this sweep, earlier results stay.
  bool rerender = false;
};

struct NewSweep {
  std::string name;
  std::string spec_yaml;  // the spec as the user wrote it; spec_sha256 is computed
  int priority = 0;
  std::vector<NewJob> jobs;
};

// What InsertJobs/CreateSweep did, index-aligned with the input jobs.
struct InsertedJobs {
  // The job each input maps to: a new job, or for a render that already exists and is
  // done or still pending, the job that produces it (possibly of another sweep).
  std::vector<std::int64_t> job_ids;
  std::vector<std::int64_t> render_ids;  // 0 for non-render jobs
  int jobs_created = 0;
  int renders_created = 0;
  int renders_shared = 0;  // render inputs satisfied by an existing render
};

struct CreatedSweep {
  std::int64_t sweep_id = 0;
  InsertedJobs jobs;
};

struct Sweep {
  std::int64_t id = 0;
  std::string name;
  std::string spec_yaml;
  std::string spec_sha256;
  int priority = 0;
  SweepState state = SweepState::kQueued;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

struct Job {
  std::int64_t id = 0;
  std::int64_t sweep_id = 0;
  JobKind kind = JobKind::kSynthetic;
  std::string param_hash;
  std::string params_json;
  JobState state = JobState::kQueued;
  int priority = 0;
  int attempt_count = 0;
  std::string last_error;  // empty when none
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

// Unset fields do not filter. Results are in ascending id order; `after_id` pages.
struct JobFilter {
  std::optional<std::int64_t> sweep_id;
  std::optional<JobState> state;
  std::optional<JobKind> kind;
  std::int64_t after_id = 0;
  std::int64_t limit = 0;  // 0 = no limit
};

struct Attempt {
  std::int64_t id = 0;
  std::int64_t job_id = 0;
  int attempt = 0;  // 1-based
  std::string agent_id;
  std::int64_t leased_at_ms = 0;
  std::int64_t deadline_ms = 0;
  std::optional<std::int64_t> finished_at_ms;  // unset while the lease is open
  std::optional<AttemptOutcome> outcome;
  std::string error;
  std::string metrics_json;  // the agent's metrics as a JSON object; empty when none
  // false: not held against max_attempts (refused busy, offer lost; 0011_uncounted_attempts)
  bool counted = true;
};

// ---- renders and artifacts -------------------------------------------------------------

struct NewRender {
  RenderParams params;
  std::int64_t sweep_id = 0;  // links the render to this sweep when non-zero
  std::int64_t job_id = 0;    // producing job when non-zero (only set on a new row)
  // Optional canonical form, trusted as for NewJob: empty means the store computes it;
  // given, it must be ToCanonicalJson(params) and param_hash its SHA-256.
  std::string params_json;
  std::string param_hash;
};

struct RenderInsert {
  std::int64_t id = 0;
  bool created = false;  // false: a render with the same param_hash already existed
};

struct Render {
  std::int64_t id = 0;
  std::string param_hash;
  std::string params_json;  // canonical; the source of truth
  RenderParams params;      // parsed from params_json
  std::optional<std::int64_t> job_id;
  std::optional<std::int64_t> artifact_id;  // unset until rendered
  std::optional<std::int64_t> faces_artifact_id;  // the "faces" JSON; unset without one
  std::optional<std::int64_t> record_artifact_id;  // the recipe's "record" JSON; unset without one
  std::optional<std::int64_t> rendered_at_ms;
  std::int64_t created_at_ms = 0;
};

// Unset fields do not filter; strings match the typed columns exactly (an empty pose or
// tone matches renders without one). Ascending id order; `after_id` pages.
struct RenderFilter {
  std::optional<std::int64_t> sweep_id;
  std::optional<std::string> sampler;
  std::optional<std::string> pose;
  std::optional<std::string> tone;
  std::optional<bool> rendered;  // true: has an artifact
  std::int64_t after_id = 0;
  std::int64_t limit = 0;  // 0 = no limit
};

struct NewArtifact {
  std::string sha256;
  std::int64_t size = 0;
  std::string path;  // relative to the artifact root, '/'-separated, no '..'
  std::string media_type;
};

struct Artifact {
  std::int64_t id = 0;
  std::string sha256;
  std::int64_t size = 0;
  std::string path;
  std::string media_type;
  std::int64_t created_at_ms = 0;
};

// One named output of a job (table job_artifacts): "image", "faces", "lora@1600", ...
struct JobArtifact {
  std::int64_t job_id = 0;
  std::string name;
  Artifact artifact;
};

// ---- identities, LoRAs, scores ---------------------------------------------------------

struct NewIdentityPhoto {
  std::string sha256;
  std::string path;
  std::optional<int> face_count;  // unset until analysed
  std::vector<float> descriptor;  // empty until analysed
  std::string descriptor_model;   // required with a descriptor
  // Every face the analysis found, as a JSON array (schemas/migrations/
  // 0002_identity_faces.sql); empty: NULL. Must be valid JSON.
  std::string faces_json;
};

// photos_sha256 is computed with PhotoSetDigest over the photos' sha256.
struct NewIdentity {
  std::string name;
  std::string instance_token;
  std::vector<NewIdentityPhoto> photos;
};

struct IdentityPhoto {
  std::int64_t id = 0;
  std::int64_t identity_id = 0;
  std::string sha256;
  std::string path;
  std::optional<int> face_count;
  std::vector<float> descriptor;
  std::string descriptor_model;
  std::string faces_json;  // empty when NULL
  std::int64_t created_at_ms = 0;
};

struct Identity {
  std::int64_t id = 0;
  std::string name;
  std::string instance_token;
  std::string photos_sha256;
  std::int64_t created_at_ms = 0;
  std::vector<IdentityPhoto> photos;  // ascending id
};

struct NewLora {
  std::int64_t identity_id = 0;
  std::string train_param_hash;
  std::int64_t job_id = 0;        // training job, 0 = none
  std::string checkpoint_sha256;  // base model
  std::string settings_json;
};

struct Lora {
  std::int64_t id = 0;
  std::int64_t identity_id = 0;
  std::string train_param_hash;
  std::optional<std::int64_t> job_id;
  std::string checkpoint_sha256;
  std::string settings_json;
  std::int64_t created_at_ms = 0;
};

// A succeeded train job's run (table train_runs).
struct TrainRun {
  std::int64_t job_id = 0;
  std::string train_param_hash;
  std::string prepare_param_hash;
  std::string dataset_sha256;  // empty when unknown
  std::string checkpoint_sha256;
  int world_size = 1;
  int steps = 0;
  std::optional<int> best_step;
  std::string params_json;
  std::string result_json;
  std::int64_t created_at_ms = 0;
};

// One (possibly downsampled) training step (table train_steps).
struct TrainStep {
  int step = 0;
  std::optional<double> loss;
  std::optional<double> lr;
  std::optional<double> lr_text_encoder;
  std::optional<double> grad_norm;
};

struct LoraCheckpoint {
  std::int64_t id = 0;
  std::int64_t lora_id = 0;
  int step = 0;
  std::int64_t artifact_id = 0;
  std::string sha256;  // of the artifact, read through the join
  std::optional<double> validation_score;
  std::int64_t created_at_ms = 0;
};

struct NewScore {
  std::int64_t render_id = 0;
  std::int64_t identity_id = 0;
  std::int64_t job_id = 0;  // 0 = none
  std::string metric;       // "cosine" or "euclidean"
  std::string model_version;
  std::optional<double> similarity;  // unset: no usable face (faces_found 0 or reason)
  int faces_found = 0;
  std::string reason;
};

struct Score {
  std::int64_t id = 0;
  std::int64_t render_id = 0;
  std::int64_t identity_id = 0;
  std::optional<std::int64_t> job_id;
  std::string metric;
  std::string model_version;
  std::optional<double> similarity;
  int faces_found = 0;
  std::string reason;
  std::int64_t created_at_ms = 0;
};

// ---- render results (0008_render_results.sql) ----------------------------------------------

// What a render job produced, for every render_results row it serves. Unset fields stay
// NULL; rendered_at_ms 0 means the store's clock.
struct RenderResultUpdate {
  std::int64_t job_id = 0;
  std::int64_t artifact_id = 0;  // the final image
  std::string image_sha256;
  std::int64_t faces_artifact_id = 0;  // 0 = none
  std::string agent_id;
  std::string agent_version;
  std::optional<double> seconds;
  std::int64_t rendered_at_ms = 0;
};

// One sweep's view of one render.
struct RenderResult {
  std::int64_t id = 0;
  std::int64_t sweep_id = 0;
  std::int64_t render_id = 0;
  std::optional<std::int64_t> job_id;
  std::optional<std::int64_t> artifact_id;
  std::string image_sha256;  // empty until rendered
  std::optional<std::int64_t> faces_artifact_id;
  std::string agent_id;
  std::string agent_version;
  std::optional<double> seconds;
  std::optional<std::int64_t> rendered_at_ms;
  std::optional<std::int64_t> identity_id;
  std::optional<double> score;      // cosine
  std::optional<double> euclidean;
  std::optional<int> faces_found;
  std::int64_t created_at_ms = 0;
};

// A value of an ad-hoc read (Store::Select): NULL, integer, real or text.
using SqlValue = std::variant<std::monostate, std::int64_t, double, std::string>;

struct SelectResult {
  std::vector<std::string> columns;
  std::vector<std::vector<SqlValue>> rows;
};

// ---- nightly evaluations -------------------------------------------------------------------

enum class NightlyVerdict { kPass, kFail, kFirst };  // kFirst: no baseline to compare with
const char* Name(NightlyVerdict value);

struct NightlyRun {
  std::int64_t sweep_id = 0;
  std::string spec_name;
  std::optional<std::int64_t> baseline_sweep_id;
  NightlyVerdict verdict = NightlyVerdict::kFirst;
  std::string summary_json;  // the comparison, as `farmctl nightly --json` prints it
  std::int64_t created_at_ms = 0;
};

// ---- agents ------------------------------------------------------------------------------

// Upserted by id. first_seen_at_ms/last_seen_at_ms are set by the store's clock (the
// values passed in are ignored).
struct AgentRecord {
  std::string id;
  std::string hostname;
  std::string device_kind;  // "cpu", "cuda", ...
  std::int64_t memory_bytes = 0;
  int cores = 0;
  std::string version;
  AgentState state = AgentState::kOnline;
  std::int64_t first_seen_at_ms = 0;
  std::int64_t last_seen_at_ms = 0;
  // An operator asked for no new work (0010_agent_drain.sql); not written by UpsertAgent.
  bool drain_requested = false;
};

}  // namespace farm::store
