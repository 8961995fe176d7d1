-- Render rows that are cheaper to insert (issue 16: 100,000 render rows/s), with the
-- queries of `farmctl renders` still served by indexes (docs/BENCHMARKS.md, "Store
-- inserts" and "Query, effects and report").
--
-- A new render row updated 22 B-trees: the table, param_hash, eleven single-column
-- parameter indexes and the job index, two for its sweep_renders link and six for its
-- render_results row. Now it updates 11 (9 for a render inserted without a job):
--
-- - One composite index over the grid parameters replaces the single-column ones on
--   sampler, steps, cfg, clip skip, size, pose, tone, denoise, LoRA and checkpoint. An
--   equality on sampler (the usual first filter) with a range or list on cfg, pose and
--   tone reads only index entries. renders_seed stays: a seed pins a few renders, and a
--   lookup by seed is how a render is found again (0.04 ms against a full scan).
-- - The prompts are no longer stored twice: `prompt` and `negative_prompt` become
--   virtual columns read from params_json (the canonical JSON, unchanged), so queries
--   on them keep working and the row is about 250 bytes smaller.
-- - sweep_renders becomes a view over render_results, which already holds one row per
--   (sweep, render) with UNIQUE (sweep_id, render_id) and an index on render_id: the
--   same two lookups, kept once.
-- - The job indexes of renders and render_results hold only rows with a job: a lookup
--   by job id (`job_id = ?` implies NOT NULL, so the planner uses them) never wants the
--   others, and renders inserted without a job skip two B-trees.
--
-- Append-only like 0001_initial.sql.

DROP INDEX renders_sampler;
DROP INDEX renders_steps;
DROP INDEX renders_cfg;
DROP INDEX renders_clip_skip;
DROP INDEX renders_size;
DROP INDEX renders_pose;
DROP INDEX renders_tone;
DROP INDEX renders_denoise;
DROP INDEX renders_lora;
DROP INDEX renders_checkpoint;

DROP INDEX renders_job;
CREATE INDEX renders_job ON renders (job_id) WHERE job_id IS NOT NULL;
DROP INDEX render_results_job;
CREATE INDEX render_results_job ON render_results (job_id) WHERE job_id IS NOT NULL;

-- Grid parameters, the most often filtered first; the rowid at the end of every entry
-- keeps equal keys in render order.
CREATE INDEX renders_grid ON renders (sampler, cfg, pose, tone, steps, clip_skip, scheduler);

ALTER TABLE renders DROP COLUMN prompt;
ALTER TABLE renders DROP COLUMN negative_prompt;
ALTER TABLE renders ADD COLUMN prompt TEXT
  GENERATED ALWAYS AS (json_extract(params_json, '$.prompt')) VIRTUAL;
ALTER TABLE renders ADD COLUMN negative_prompt TEXT
  GENERATED ALWAYS AS (json_extract(params_json, '$.negative_prompt')) VIRTUAL;

-- Every link has its result row (0008 made them, the store wrote both since); a link
-- without one, should a database hold it, gets one as 0008 made them.
INSERT INTO render_results (sweep_id, render_id, job_id, artifact_id, image_sha256,
                            faces_artifact_id, rendered_at, created_at)
SELECT sr.sweep_id, r.id, r.job_id, r.artifact_id, a.sha256, r.faces_artifact_id,
       r.rendered_at, r.created_at
FROM sweep_renders sr
JOIN renders r ON r.id = sr.render_id
LEFT JOIN artifacts a ON a.id = r.artifact_id
WHERE TRUE
ON CONFLICT (sweep_id, render_id) DO NOTHING;

DROP TABLE sweep_renders;
CREATE VIEW sweep_renders AS SELECT sweep_id, render_id FROM render_results;
