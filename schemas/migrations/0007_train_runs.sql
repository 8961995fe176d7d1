-- What a succeeded train job produced, written with its result: the run (dataset, base
-- checkpoint, hyper-parameters, world size, best step, the whole result.json) and the
-- loss, learning rates and gradient norm of its steps, downsampled to at most 2000 rows
-- per job (every k-th step plus the last). Read by `farmctl train show`.
--
-- Append-only like 0001_initial.sql.

CREATE TABLE train_runs (
  job_id             INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  train_param_hash   TEXT    NOT NULL,
  prepare_param_hash TEXT    NOT NULL,  -- the dataset: the prepare job's param_hash
  dataset_sha256     TEXT,              -- its "dataset" artifact, when stored here
  checkpoint_sha256  TEXT    NOT NULL,  -- base model
  world_size         INTEGER NOT NULL CHECK (world_size >= 1),
  steps              INTEGER NOT NULL,
  best_step          INTEGER,           -- by face-ID validation; NULL without it
  params_json        TEXT    NOT NULL,  -- the TrainParams record: every hyper-parameter
  result_json        TEXT    NOT NULL,  -- the run's train_result artifact
  created_at         INTEGER NOT NULL
);
CREATE INDEX train_runs_hash ON train_runs (train_param_hash);

CREATE TABLE train_steps (
  job_id          INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  step            INTEGER NOT NULL CHECK (step > 0),
  loss            REAL,
  lr              REAL,
  lr_text_encoder REAL,
  grad_norm       REAL,
  PRIMARY KEY (job_id, step)
) WITHOUT ROWID;
