-- What each sweep got for each of its renders, in one row per (sweep, render): the query
-- table behind `farmctl renders`, compare, effects, reports and the dashboard.
--
-- A render record (renders, unique by param_hash) can be rendered more than once: a
-- nightly evaluation asks for the same records again as new jobs of a new sweep, and the
-- engine may draw different pixels. Each sweep's row keeps the image, timing and scores
-- of the job that served it, so nothing of an earlier evaluation is overwritten. A sweep
-- that shares a render of an earlier sweep (no second job) points at that job and gets
-- its image; its own score jobs fill its scores.
--
-- Written by the store: a row when a render is linked to a sweep (copying the result of
-- its job when that job already finished), the result columns when the render job's
-- result is stored (RecordRenderResult: every row served by that job), the score columns
-- when a score job of the row's sweep is stored (InsertScores).
--
-- Append-only like 0001_initial.sql.

CREATE TABLE render_results (
  id                INTEGER PRIMARY KEY,
  sweep_id          INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  render_id         INTEGER NOT NULL REFERENCES renders (id) ON DELETE CASCADE,
  -- The render job whose image this row shows (it may belong to another sweep).
  job_id            INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
  artifact_id       INTEGER REFERENCES artifacts (id),  -- final image; NULL until rendered
  image_sha256      TEXT,
  faces_artifact_id INTEGER REFERENCES artifacts (id),
  agent_id          TEXT,
  agent_version     TEXT,
  seconds           REAL,     -- the agent's seconds_total, else the lease's duration
  rendered_at       INTEGER,
  identity_id       INTEGER REFERENCES identities (id),
  score             REAL,     -- cosine similarity to the identity; NULL: none (no face, not scored)
  euclidean         REAL,     -- Euclidean distance, when the sweep asked for it
  faces_found       INTEGER,  -- NULL until scored
  created_at        INTEGER NOT NULL,
  UNIQUE (sweep_id, render_id),
  CHECK ((artifact_id IS NULL) = (rendered_at IS NULL))
);
-- Best-first queries walk these and stop at LIMIT: across sweeps, and within one.
CREATE INDEX render_results_score ON render_results (score DESC);
CREATE INDEX render_results_sweep_score ON render_results (sweep_id, score DESC);
CREATE INDEX render_results_render ON render_results (render_id);
CREATE INDEX render_results_job ON render_results (job_id);

-- Rows for what is stored already: the render's current result and, per sweep, the newest
-- score of a score job of that sweep (else of any).
INSERT INTO render_results (sweep_id, render_id, job_id, artifact_id, image_sha256,
                            faces_artifact_id, rendered_at, created_at)
SELECT sr.sweep_id, r.id, r.job_id, r.artifact_id, a.sha256, r.faces_artifact_id,
       r.rendered_at, r.created_at
FROM sweep_renders sr
JOIN renders r ON r.id = sr.render_id
LEFT JOIN artifacts a ON a.id = r.artifact_id;

UPDATE render_results AS rr SET
  identity_id = sc.identity_id, score = sc.similarity, faces_found = sc.faces_found
FROM (SELECT s.render_id, s.identity_id, s.similarity, s.faces_found, j.sweep_id,
             row_number() OVER (PARTITION BY s.render_id, j.sweep_id ORDER BY s.id DESC) AS n
      FROM scores s LEFT JOIN jobs j ON j.id = s.job_id
      WHERE s.metric = 'cosine') AS sc
WHERE sc.render_id = rr.render_id AND sc.n = 1
  AND (sc.sweep_id = rr.sweep_id OR sc.sweep_id IS NULL);

UPDATE render_results AS rr SET
  euclidean = sc.similarity, faces_found = coalesce(rr.faces_found, sc.faces_found)
FROM (SELECT s.render_id, s.similarity, s.faces_found, j.sweep_id,
             row_number() OVER (PARTITION BY s.render_id, j.sweep_id ORDER BY s.id DESC) AS n
      FROM scores s LEFT JOIN jobs j ON j.id = s.job_id
      WHERE s.metric = 'euclidean') AS sc
WHERE sc.render_id = rr.render_id AND sc.n = 1
  AND (sc.sweep_id = rr.sweep_id OR sc.sweep_id IS NULL);

-- Nightly evaluations (`farmctl nightly`): each run's verdict against its baseline. The
-- newest passing run of a spec is its "last-good" baseline.
CREATE TABLE nightly_runs (
  sweep_id          INTEGER PRIMARY KEY REFERENCES sweeps (id) ON DELETE CASCADE,
  spec_name         TEXT    NOT NULL CHECK (length(spec_name) > 0),
  baseline_sweep_id INTEGER REFERENCES sweeps (id) ON DELETE SET NULL,
  verdict           TEXT    NOT NULL CHECK (verdict IN ('pass', 'fail', 'first')),
  summary_json      TEXT    NOT NULL CHECK (json_valid(summary_json)),
  created_at        INTEGER NOT NULL
);
CREATE INDEX nightly_runs_spec ON nightly_runs (spec_name, verdict, sweep_id DESC);
