-- StudioFarm initial schema.
--
-- Append-only: once released this file is never edited; a change is a new file
-- NNNN_name.sql with the next number. The store's migration runner applies pending
-- migrations and records the version itself, in the same transaction; migrations never
-- touch its version table.
--
-- Conventions:
-- - times are INTEGER milliseconds since the Unix epoch (UTC), set by the store's clock;
-- - SHA-256 digests are 64 lower-case hex characters;
-- - params_json columns hold canonical JSON (schemas/include/farm/schemas/canonical_json.h)
--   and param_hash is the SHA-256 of exactly those bytes;
-- - enumerations are TEXT with a CHECK listing their values, so ad-hoc SQL reads well.

CREATE TABLE sweeps (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL CHECK (length(name) > 0),
  spec_yaml   TEXT    NOT NULL,
  spec_sha256 TEXT    NOT NULL CHECK (length(spec_sha256) = 64),
  priority    INTEGER NOT NULL DEFAULT 0,
  state       TEXT    NOT NULL DEFAULT 'queued'
              CHECK (state IN ('queued', 'running', 'paused', 'succeeded', 'failed',
                               'cancelled')),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX sweeps_state ON sweeps (state, priority DESC);
CREATE INDEX sweeps_name ON sweeps (name);

CREATE TABLE jobs (
  id            INTEGER PRIMARY KEY,
  sweep_id      INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  kind          TEXT    NOT NULL
                CHECK (kind IN ('prepare', 'train', 'validate', 'render', 'score',
                                'synthetic')),
  param_hash    TEXT    NOT NULL CHECK (length(param_hash) = 64),
  params_json   TEXT    NOT NULL CHECK (length(params_json) > 0),
  state         TEXT    NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'leased', 'succeeded', 'failed', 'cancelled',
                                 'skipped')),
  priority      INTEGER NOT NULL DEFAULT 0,
  -- Number of leases handed out so far; equals the attempt number of the newest lease.
  attempt_count INTEGER NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
  last_error    TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  -- One job per record and kind within a sweep; across sweeps renders are shared instead.
  -- param_hash leads so that this index also finds a record's jobs in every sweep.
  UNIQUE (param_hash, kind, sweep_id)
);
-- The scheduler's queue scan: runnable jobs by priority, oldest first.
CREATE INDEX jobs_state_priority ON jobs (state, priority DESC, id);
CREATE INDEX jobs_sweep ON jobs (sweep_id, id);

CREATE TABLE job_deps (
  job_id            INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  depends_on_job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  PRIMARY KEY (job_id, depends_on_job_id),
  CHECK (job_id <> depends_on_job_id)
) WITHOUT ROWID;
-- "Which jobs wait for this one" when a job finishes.
CREATE INDEX job_deps_depends_on ON job_deps (depends_on_job_id, job_id);

CREATE TABLE agents (
  id            TEXT    PRIMARY KEY CHECK (length(id) > 0),
  hostname      TEXT    NOT NULL,
  device_kind   TEXT    NOT NULL CHECK (length(device_kind) > 0),  -- "cpu", "cuda", ...
  memory_bytes  INTEGER NOT NULL CHECK (memory_bytes >= 0),
  cores         INTEGER NOT NULL CHECK (cores >= 0),
  version       TEXT    NOT NULL,
  first_seen_at INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL CHECK (last_seen_at >= first_seen_at),
  state         TEXT    NOT NULL DEFAULT 'online'
                CHECK (state IN ('online', 'draining', 'offline', 'lost'))
);
CREATE INDEX agents_state ON agents (state, last_seen_at);

-- Lease history: one row per dispatch of a job. A result is accepted only for the newest
-- attempt while it is still open (fencing).
CREATE TABLE attempts (
  id          INTEGER PRIMARY KEY,
  job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt     INTEGER NOT NULL CHECK (attempt >= 1),
  agent_id    TEXT    NOT NULL REFERENCES agents (id),
  leased_at   INTEGER NOT NULL,
  deadline    INTEGER NOT NULL CHECK (deadline >= leased_at),
  finished_at INTEGER,
  outcome     TEXT    CHECK (outcome IN ('succeeded', 'failed', 'expired', 'cancelled')),
  error       TEXT,
  UNIQUE (job_id, attempt),
  CHECK ((outcome IS NULL) = (finished_at IS NULL))
);
CREATE INDEX attempts_agent ON attempts (agent_id, job_id);
-- Expired-lease scan after a coordinator restart touches only open attempts.
CREATE INDEX attempts_open_deadline ON attempts (deadline) WHERE outcome IS NULL;

CREATE TABLE artifacts (
  id         INTEGER PRIMARY KEY,
  sha256     TEXT    NOT NULL UNIQUE CHECK (length(sha256) = 64),
  size       INTEGER NOT NULL CHECK (size >= 0),
  -- Relative to the artifact root; never absolute (the store also refuses '..').
  path       TEXT    NOT NULL CHECK (length(path) > 0 AND substr(path, 1, 1) <> '/'),
  media_type TEXT    NOT NULL CHECK (length(media_type) > 0),
  created_at INTEGER NOT NULL
);

-- One row per distinct canonical render record (param_hash); shared by every sweep that
-- asks for it (sweep_renders), so the farm never renders a record twice unless asked.
-- Every parameter is also a typed, indexed column for queries; params_json stays the
-- source of truth (it also holds ControlNet units, stages, further LoRAs).
CREATE TABLE renders (
  id                INTEGER PRIMARY KEY,
  param_hash        TEXT    NOT NULL UNIQUE CHECK (length(param_hash) = 64),
  params_json       TEXT    NOT NULL,
  job_id            INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
  -- Seeds are unsigned 64-bit; values >= 2^63 appear here as their two's-complement
  -- negative (params_json holds the true value).
  seed              INTEGER NOT NULL,
  sampler           TEXT    NOT NULL,
  scheduler         TEXT    NOT NULL,
  steps             INTEGER NOT NULL CHECK (steps > 0),
  cfg               REAL    NOT NULL,
  clip_skip         INTEGER NOT NULL CHECK (clip_skip >= 1),
  width             INTEGER NOT NULL CHECK (width > 0),
  height            INTEGER NOT NULL CHECK (height > 0),
  pose              TEXT,  -- NULL for none
  tone              TEXT,  -- NULL for none
  denoise           REAL    NOT NULL CHECK (denoise >= 0 AND denoise <= 1),
  -- The first LoRA (ref as in RenderParams: "sha256:<hex>" or "train:<hash>@<step>").
  lora_ref          TEXT,
  lora_weight       REAL,
  checkpoint_sha256 TEXT    NOT NULL,
  prompt            TEXT    NOT NULL,
  negative_prompt   TEXT    NOT NULL,
  artifact_id       INTEGER REFERENCES artifacts (id),  -- NULL until rendered
  rendered_at       INTEGER,
  created_at        INTEGER NOT NULL,
  CHECK ((lora_ref IS NULL) = (lora_weight IS NULL)),
  CHECK ((artifact_id IS NULL) = (rendered_at IS NULL))
);
CREATE INDEX renders_job ON renders (job_id);
CREATE INDEX renders_seed ON renders (seed);
CREATE INDEX renders_sampler ON renders (sampler, scheduler);
CREATE INDEX renders_steps ON renders (steps);
CREATE INDEX renders_cfg ON renders (cfg);
CREATE INDEX renders_clip_skip ON renders (clip_skip);
CREATE INDEX renders_size ON renders (width, height);
CREATE INDEX renders_pose ON renders (pose);
CREATE INDEX renders_tone ON renders (tone);
CREATE INDEX renders_denoise ON renders (denoise);
CREATE INDEX renders_lora ON renders (lora_ref, lora_weight);
CREATE INDEX renders_checkpoint ON renders (checkpoint_sha256);
CREATE INDEX renders_artifact ON renders (artifact_id) WHERE artifact_id IS NOT NULL;

CREATE TABLE sweep_renders (
  sweep_id  INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  render_id INTEGER NOT NULL REFERENCES renders (id) ON DELETE CASCADE,
  PRIMARY KEY (sweep_id, render_id)
) WITHOUT ROWID;
CREATE INDEX sweep_renders_render ON sweep_renders (render_id, sweep_id);

CREATE TABLE identities (
  id             INTEGER PRIMARY KEY,
  name           TEXT    NOT NULL UNIQUE CHECK (length(name) > 0),
  instance_token TEXT    NOT NULL CHECK (length(instance_token) > 0),
  -- PhotoSetDigest of the photos below: a changed photo set is a different training input.
  photos_sha256  TEXT    NOT NULL CHECK (length(photos_sha256) = 64),
  created_at     INTEGER NOT NULL
);

CREATE TABLE identity_photos (
  id               INTEGER PRIMARY KEY,
  identity_id      INTEGER NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  sha256           TEXT    NOT NULL CHECK (length(sha256) = 64),
  path             TEXT    NOT NULL CHECK (length(path) > 0),
  face_count       INTEGER CHECK (face_count >= 0),  -- NULL until analysed
  -- Face-ID embedding of the photo's face: float32 little-endian; NULL until analysed.
  descriptor       BLOB    CHECK (descriptor IS NULL OR length(descriptor) % 4 = 0),
  descriptor_model TEXT,
  created_at       INTEGER NOT NULL,
  UNIQUE (identity_id, sha256),
  CHECK ((descriptor IS NULL) = (descriptor_model IS NULL))
);

CREATE TABLE loras (
  id                INTEGER PRIMARY KEY,
  identity_id       INTEGER NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  train_param_hash  TEXT    NOT NULL UNIQUE CHECK (length(train_param_hash) = 64),
  job_id            INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
  checkpoint_sha256 TEXT    NOT NULL CHECK (length(checkpoint_sha256) = 64),  -- base model
  settings_json     TEXT    NOT NULL,
  created_at        INTEGER NOT NULL
);
CREATE INDEX loras_identity ON loras (identity_id);
CREATE INDEX loras_job ON loras (job_id);

CREATE TABLE lora_checkpoints (
  id               INTEGER PRIMARY KEY,
  lora_id          INTEGER NOT NULL REFERENCES loras (id) ON DELETE CASCADE,
  step             INTEGER NOT NULL CHECK (step > 0),
  artifact_id      INTEGER NOT NULL REFERENCES artifacts (id),
  validation_score REAL,  -- NULL until validated
  created_at       INTEGER NOT NULL,
  UNIQUE (lora_id, step)
);
CREATE INDEX lora_checkpoints_artifact ON lora_checkpoints (artifact_id);

-- Face-ID similarity of a render against an identity. Re-scoring with the same metric and
-- model version is idempotent; a new model version adds rows.
CREATE TABLE scores (
  id            INTEGER PRIMARY KEY,
  render_id     INTEGER NOT NULL REFERENCES renders (id) ON DELETE CASCADE,
  identity_id   INTEGER NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  job_id        INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
  metric        TEXT    NOT NULL CHECK (metric IN ('cosine', 'euclidean')),
  model_version TEXT    NOT NULL CHECK (length(model_version) > 0),
  similarity    REAL,  -- NULL when no usable face was found (see reason)
  faces_found   INTEGER NOT NULL CHECK (faces_found >= 0),
  reason        TEXT,
  created_at    INTEGER NOT NULL,
  UNIQUE (render_id, identity_id, metric, model_version),
  CHECK (faces_found > 0 OR similarity IS NULL)
);
-- Ranking query: best renders of an identity.
CREATE INDEX scores_ranking ON scores (identity_id, metric, similarity DESC);
CREATE INDEX scores_job ON scores (job_id);
