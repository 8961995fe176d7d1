// The farm database: one SQLite file in WAL mode, written only by the coordinator
// (farmd, or farmctl db init/migrate) and read by farmctl while that writer runs.
//
// Contracts shared by every method:
// - No exception crosses this API; failures are farm::Status values whose message starts
//   with the database path and names the operation. Codes callers act on:
//     NotFound            a named row or the file does not exist;
//     AlreadyExists       a unique key would be stored twice;
//     InvalidArgument     bad input (a CHECK/NOT NULL/foreign key refused it, bad path);
//     FailedPrecondition  wrong state: read-only store, schema too new/old, stale lease;
//     Unavailable         another writer holds the database past the busy timeout;
//     DataLoss            the file is corrupt or truncated.
// - A Store is not thread-safe: use it from one thread at a time. Any number of Store
//   objects (in any processes) may read the same file; at most one should write.
// - Every write method is atomic: it runs in its own transaction, or joins the open
//   WriteTransaction as a savepoint (so a failed call undoes only itself). Vector methods
//   write all rows in one transaction with cached prepared statements. With
//   synchronous=NORMAL in WAL mode a commit survives a killed process; the WAL is fsynced
//   at checkpoints, so an OS crash or power loss may drop the last commits.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/store/records.h"

namespace farm::store {

class StoreImpl;

enum class OpenMode {
  // Creates the file if missing (unless StoreOptions::create_if_missing is false), sets
  // WAL mode and applies pending migrations in one transaction.
  kReadWrite,
  // Never writes and never migrates; refuses a database whose schema is older or newer
  // than this binary's. Works while another process writes (WAL snapshot reads).
  kReadOnly,
};

struct StoreOptions {
  // kReadWrite only: false makes a missing file NotFound (farmctl db migrate).
  bool create_if_missing = true;
  // kReadOnly only: also open a database whose schema is older than this binary's (never
  // a newer one). For readers that use only what every schema version has, such as job
  // and attempt counts (bench_dispatch against an older farmd's database); the caller
  // answers for its queries.
  bool read_older_schema = false;
  // How long a statement waits for another connection's lock before Unavailable.
  int busy_timeout_ms = 5000;
  // Page cache per connection (SQLite's default is 2 MiB; bulk inserts into the
  // param_hash index want more).
  int cache_size_kib = 32 * 1024;
  // kReadWrite only: checkpoint the write-ahead log on a thread of the store's own
  // instead of inside the commit that fills it (docs/BENCHMARKS.md, "Store inserts").
  bool background_checkpoints = true;
  // Frames in the log that wake the checkpoint thread (SQLite's wal_autocheckpoint
  // default); at eight times as many the writer checkpoints inline, should the thread
  // fall behind. Tests use small values.
  int wal_checkpoint_pages = 1000;
  // Milliseconds since the Unix epoch for created_at/updated_at columns. Empty: the
  // system clock. Tests inject a fake clock.
  std::function<std::int64_t()> clock_ms;
};

struct MigrateResult {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;  // "0001_initial", ... in order; empty if up to date
};

struct StoreInfo {
  std::string path;
  bool read_only = false;
  int schema_version = 0;
  int latest_schema_version = 0;  // what this binary knows
  std::string journal_mode;       // "wal" for a farm database
  std::int64_t page_count = 0;
  std::int64_t page_size = 0;
  std::vector<std::pair<std::string, std::int64_t>> row_counts;  // table -> rows
};

// Checkpoints of the write-ahead log since the store opened (kReadWrite).
struct WalCheckpointStats {
  bool background = false;         // a checkpoint thread runs (else SQLite's automatic ones)
  std::int64_t background_runs = 0;
  std::int64_t inline_runs = 0;    // by the writer, because the thread fell behind
  std::int64_t failures = 0;       // SQLITE_BUSY excluded (retried)
  std::string last_error;          // SQLite's message for the last failure
};

class Store;

// Groups several write calls into one transaction (BEGIN IMMEDIATE: the write lock is
// taken up front, so the commit cannot fail on a lock upgrade). Rolls back on destruction
// unless committed. Must not outlive its Store; one at a time per Store.
class WriteTransaction {
 public:
  WriteTransaction(WriteTransaction&& other) noexcept;
  WriteTransaction& operator=(WriteTransaction&&) = delete;
  WriteTransaction(const WriteTransaction&) = delete;
  ~WriteTransaction();

  // Commits (the only fsync point). After Commit the object is spent, even on error.
  Status Commit();

 private:
  friend class Store;
  explicit WriteTransaction(StoreImpl* impl) : impl_(impl) {}
  StoreImpl* impl_;  // not owned; null once committed or rolled back
};

class Store {
 public:
  // Opens or creates the database at `path`. Errors name the path: NotFound (missing
  // file or parent directory), InvalidArgument (a directory, not a SQLite file),
  // DataLoss (truncated/corrupt), FailedPrecondition (not a farm database, schema newer
  // than LatestSchemaVersion(), or in kReadOnly older than it: "run farmctl db migrate").
  // An empty file opened kReadWrite is initialised as a new database.
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& path, OpenMode mode,
                                               StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const;
  bool read_only() const;
  // What Open's migration did (from == to when nothing was pending, or in kReadOnly).
  const MigrateResult& migration_at_open() const;
  WalCheckpointStats wal_checkpoints() const;

  // Applies pending migrations (normally none after Open) in one transaction with the
  // schema_version rows. Idempotent.
  StatusOr<MigrateResult> Migrate();
  StatusOr<StoreInfo> Info();

  // Starts a transaction that the following write calls join until Commit.
  // FailedPrecondition if read-only or one is already open.
  StatusOr<WriteTransaction> BeginWrite();

  // ---- sweeps and jobs (sweeps.cc, jobs.cc, attempts.cc) ----
  // The coordinator's main path: the sweep row, its jobs, their dependencies and render
  // rows in one transaction. See InsertJobs for render sharing.
  StatusOr<CreatedSweep> CreateSweep(const NewSweep& sweep);
  StatusOr<Sweep> GetSweep(std::int64_t sweep_id);
  StatusOr<std::vector<Sweep>> ListSweeps(std::int64_t limit = 0);  // newest first
  Status SetSweepState(std::int64_t sweep_id, SweepState state);
  // The sweep's priority and that of its queued and leased jobs (finished jobs keep the
  // one they ran with). NotFound for an unknown sweep.
  Status SetSweepPriority(std::int64_t sweep_id, int priority);

  // Adds jobs to a sweep. A kRender job whose param_hash already has a render that is
  // rendered, or whose producing job is queued, leased or succeeded, creates no job: the
  // render is linked to the sweep and the input maps to the existing job (0 when the
  // render has none), and its deps are dropped. Otherwise a job is created and the
  // render row created or pointed at it. Deps refer to earlier indices of `jobs`.
  StatusOr<InsertedJobs> InsertJobs(std::int64_t sweep_id, const std::vector<NewJob>& jobs);
  StatusOr<Job> GetJob(std::int64_t job_id);
  StatusOr<std::vector<Job>> ListJobs(const JobFilter& filter);
  StatusOr<std::vector<std::int64_t>> ListJobDeps(std::int64_t job_id);  // depends-on ids
  // Jobs per state, of one sweep or of all, in one GROUP BY (states with no job absent).
  StatusOr<std::map<JobState, std::int64_t>> CountJobsByState(
      std::optional<std::int64_t> sweep_id = std::nullopt);
  // Attempts that ended with `outcome`.
  StatusOr<std::int64_t> CountAttempts(AttemptOutcome outcome);
  Status SetJobState(std::int64_t job_id, JobState state);
  // Sets last_error of a job that ended without an attempt (one farmd completed itself).
  Status SetJobError(std::int64_t job_id, const std::string& error);

  // Leases a queued job to a registered agent: attempt = attempt_count + 1, job leased.
  // FailedPrecondition if the job is not queued; NotFound for an unknown job or agent.
  StatusOr<Attempt> StartAttempt(std::int64_t job_id, const std::string& agent_id,
                                 std::int64_t deadline_ms);
  // Closes the job's current lease and moves the job to `next_state` (error, if any,
  // becomes last_error). Fencing: FailedPrecondition if `attempt` is not the job's newest
  // attempt or is already closed, so a late or duplicate result changes nothing.
  // `counted` false: not held against max_attempts (Attempt::counted).
  Status FinishAttempt(std::int64_t job_id, int attempt, AttemptOutcome outcome,
                       const std::string& error, JobState next_state, bool counted = true);
  // Records what the agent measured during the attempt (a JSON object), once it reported.
  // NotFound for an unknown attempt.
  Status SetAttemptMetrics(std::int64_t job_id, int attempt, const std::string& metrics_json);
  StatusOr<std::vector<Attempt>> ListAttempts(std::int64_t job_id);  // by attempt
  // Batches for farmd's group commit (lease_batches.cc): the same checks and writes as
  // StartAttempt, FinishAttempt and SetJobArtifact row by row, but one multi-row statement
  // per table (in chunks) and one savepoint per call; all rows or none. A row that fails
  // a check fails the call (FailedPrecondition for a job not queued or a stale lease,
  // InvalidArgument for an unknown agent): call the row methods to find which. A job
  // appears at most once per call.
  struct NewLease {
    std::int64_t job_id = 0;
    int attempt = 0;  // must be the job's attempt_count + 1
    std::string agent_id;
    std::int64_t deadline_ms = 0;
  };
  Status StartAttempts(const std::vector<NewLease>& leases);
  struct EndedLease {
    std::int64_t job_id = 0;
    int attempt = 0;
    AttemptOutcome outcome = AttemptOutcome::kExpired;
    std::string error;
    JobState next_state = JobState::kQueued;
    bool counted = true;  // false: not held against max_attempts (Attempt::counted)
    // The agent's metrics (as SetAttemptMetrics takes them), written by the same statement
    // that closes the attempt. Empty: the column is left as it is.
    std::string metrics_json = {};
  };
  Status FinishAttempts(const std::vector<EndedLease>& ended);
  struct JobArtifactLink {
    std::int64_t job_id = 0;
    std::string name;
    std::int64_t artifact_id = 0;
  };
  Status SetJobArtifacts(const std::vector<JobArtifactLink>& links);
  StatusOr<std::vector<Attempt>> ListOpenAttempts();                 // by deadline

  // ---- renders and artifacts (renders.cc, artifacts.cc) ----
  // Canonicalises each record that does not carry its canonical form (one
  // ToCanonicalJson per row), then inserts all rows in one transaction. An existing param_hash is
  // not an error: its id comes back with created=false and it is linked to the given sweep.
  // Index-aligned with the input.
  StatusOr<std::vector<RenderInsert>> InsertRenders(const std::vector<NewRender>& renders);
  StatusOr<Render> GetRender(std::int64_t render_id);
  StatusOr<Render> GetRenderByHash(const std::string& param_hash);
  StatusOr<std::vector<Render>> ListRenders(const RenderFilter& filter);
  Status SetRenderArtifact(std::int64_t render_id, std::int64_t artifact_id);
  // The render's "faces" artifact (JSON of the faces found in it; scoring reads it).
  Status SetRenderFacesArtifact(std::int64_t render_id, std::int64_t artifact_id);
  // The recipe's record (JSON: every stage's settings as applied, defaults filled in).
  Status SetRenderRecordArtifact(std::int64_t render_id, std::int64_t artifact_id);
  // The image after one stage of the render's recipe (a re-render replaces it).
  Status SetRenderStageImage(std::int64_t render_id, const std::string& stage,
                             std::int64_t artifact_id);
  // Stage name -> artifact id, in stage-name order.
  StatusOr<std::map<std::string, std::int64_t>> ListRenderStageImages(std::int64_t render_id);

  // Content-addressed: an existing sha256 returns its id (InvalidArgument if the size
  // differs). InvalidArgument for absolute paths or '..' components.
  StatusOr<std::int64_t> InsertArtifact(const NewArtifact& artifact);
  StatusOr<Artifact> GetArtifact(std::int64_t artifact_id);
  StatusOr<Artifact> GetArtifactBySha256(const std::string& sha256);

  // ---- named job outputs (job_artifacts.cc) ----
  // Records `artifact_id` as the output `name` of the job (a repeat replaces it).
  // InvalidArgument for an empty name; a foreign key names an unknown job or artifact.
  Status SetJobArtifact(std::int64_t job_id, const std::string& name, std::int64_t artifact_id);
  // The job's outputs, by name.
  StatusOr<std::vector<JobArtifact>> ListJobArtifacts(std::int64_t job_id);
  // The output `name` of the newest succeeded job with `param_hash` (any kind, any sweep:
  // jobs are deterministic in their parameters). NotFound when none has it.
  StatusOr<JobArtifact> FindJobArtifact(const std::string& param_hash, const std::string& name);
  // Every job with `param_hash` (any kind, any sweep), newest first.
  StatusOr<std::vector<Job>> ListJobsByParamHash(const std::string& param_hash);

  // ---- identities and LoRAs (identities.cc, loras.cc) ----
  // AlreadyExists if the name is taken; InvalidArgument for a photo whose faces_json is
  // not valid JSON.
  StatusOr<std::int64_t> CreateIdentity(const NewIdentity& identity);
  StatusOr<Identity> GetIdentity(std::int64_t identity_id);
  StatusOr<Identity> GetIdentityByName(const std::string& name);
  // Every identity with its photos, by name.
  StatusOr<std::vector<Identity>> ListIdentities();
  Status SetPhotoAnalysis(std::int64_t photo_id, int face_count,
                          const std::vector<float>& descriptor,
                          const std::string& descriptor_model);

  // An existing train_param_hash returns its id (training is deterministic).
  StatusOr<std::int64_t> InsertLora(const NewLora& lora);
  StatusOr<Lora> GetLora(std::int64_t lora_id);
  StatusOr<Lora> GetLoraByTrainHash(const std::string& train_param_hash);
  // Idempotent for the same (lora, step, artifact); AlreadyExists for another artifact.
  StatusOr<std::int64_t> AddLoraCheckpoint(std::int64_t lora_id, int step,
                                           std::int64_t artifact_id);
  Status SetCheckpointValidation(std::int64_t checkpoint_id, double score);
  StatusOr<std::vector<LoraCheckpoint>> ListLoraCheckpoints(std::int64_t lora_id);  // by step

  // ---- training runs (train_runs.cc) ----
  // Replaces the job's run and steps (a repeated result writes the same rows).
  Status RecordTrainRun(const TrainRun& run, const std::vector<TrainStep>& steps);
  StatusOr<TrainRun> GetTrainRun(std::int64_t job_id);
  // The newest run of a train_param_hash; NotFound when none.
  StatusOr<TrainRun> GetTrainRunByHash(const std::string& train_param_hash);
  StatusOr<std::vector<TrainStep>> ListTrainSteps(std::int64_t job_id);  // by step

  // ---- render results (render_results.cc) ----
  // Stores what a render job produced in every render_results row it serves (its own
  // sweep's and those of sweeps that share it). NotFound when no row names the job.
  Status RecordRenderResult(const RenderResultUpdate& update);
  StatusOr<RenderResult> GetRenderResult(std::int64_t sweep_id, std::int64_t render_id);
  // Every sweep's result of one render, oldest sweep first.
  StatusOr<std::vector<RenderResult>> ListRenderResults(std::int64_t render_id);

  // Runs one read-only SQL statement with positional parameters (?1..?N in order) and
  // returns every row: the query commands build it (farm_query) from a column whitelist
  // and bound values. InvalidArgument for SQL errors, for more than one statement and for
  // a statement that would write.
  StatusOr<SelectResult> Select(std::string_view sql, const std::vector<SqlValue>& binds);

  // ---- nightly evaluations (nightly_runs.cc) ----
  // One row per evaluation sweep (a repeat replaces it).
  Status RecordNightlyRun(const NightlyRun& run);
  StatusOr<NightlyRun> GetNightlyRun(std::int64_t sweep_id);
  // The newest passing (or first) run of the spec: the "last-good" baseline. NotFound when none.
  StatusOr<NightlyRun> GetLastGoodNightly(const std::string& spec_name);

  // ---- scores and agents (scores.cc, agents.cc) ----
  // Idempotent per (render, identity, metric, model_version): a repeated score keeps the
  // first row and returns its id. Index-aligned with the input. A score with a job_id also
  // sets the score columns of the render's render_results row in that job's sweep (even
  // when the scores row existed: a re-evaluation's image may score differently).
  StatusOr<std::vector<std::int64_t>> InsertScores(const std::vector<NewScore>& scores);
  StatusOr<std::vector<Score>> ListScores(std::int64_t render_id);
  // Every score of the renders linked to a sweep (sweep_renders), by render id then score
  // id; an unknown sweep or one without scores gives an empty list.
  StatusOr<std::vector<Score>> ListScoresForSweep(std::int64_t sweep_id);

  // Inserts or updates by id; keeps first_seen, sets last_seen to now.
  Status UpsertAgent(const AgentRecord& agent);
  Status SetAgentState(const std::string& agent_id, AgentState state);
  // NotFound for an unknown agent.
  Status SetAgentDrainRequested(const std::string& agent_id, bool requested);
  StatusOr<AgentRecord> GetAgent(const std::string& agent_id);
  StatusOr<std::vector<AgentRecord>> ListAgents();  // by id

 private:
  explicit Store(std::unique_ptr<StoreImpl> impl);
  std::unique_ptr<StoreImpl> impl_;
};

}  // namespace farm::store
