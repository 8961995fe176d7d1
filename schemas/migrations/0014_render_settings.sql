-- Render rows without the settings their sweep repeats (issue 16: 100,000 render rows/s;
-- docs/BENCHMARKS.md, "Store inserts").
--
-- A render's canonical record is ~1.1 KB, and nine tenths of it (prompts, checkpoint,
-- LoRAs, ControlNets, stages, pose, tone) is the same for every render of a sweep cell.
-- Bulk inserts are bound by those bytes: each is copied into a page, the page into the
-- write-ahead log and again into the database (a raw-SQLite harness with the store's
-- statements: ~28 % more rows/s with 200-byte records than with the real ones).
--
-- A new render now keeps only its own members in params_json (seed, sampler,
-- scheduler, steps, cfg, clip_skip, denoise, width, height, as a JSON object in the
-- canonical order) and points at the row of render_settings holding the other members,
-- stored once. Merging the two by key gives the canonical record back byte for byte
-- (the store checks, when it splits, that it will; a record it cannot split is kept
-- whole). param_hash stays the SHA-256 of that canonical record.
--
-- Rows stored before keep their whole record and no settings_id. SQL that needs a
-- value reads it where it is:
--   whole record (keys not in canonical order; for parsing or json_extract):
--     coalesce((SELECT json_patch(settings_json, r.params_json) FROM render_settings
--               WHERE id = r.settings_id), r.params_json)
--   a shared member such as the prompt:
--     json_extract(coalesce((SELECT settings_json FROM render_settings
--                            WHERE id = r.settings_id), r.params_json), '$.prompt')
-- and the view render_records gives each render's whole record for ad-hoc queries.
-- The canonical bytes come from the store (farmctl show --json, farmctl reproduce).
--
-- Append-only like 0001_initial.sql.

CREATE TABLE render_settings (
  id            INTEGER PRIMARY KEY,
  -- FNV-1a 64 of settings_json (bit pattern as a signed integer): the lookup key.
  fingerprint   INTEGER NOT NULL,
  settings_json TEXT    NOT NULL CHECK (json_valid(settings_json)),
  created_at    INTEGER NOT NULL
);
CREATE INDEX render_settings_fingerprint ON render_settings (fingerprint);

ALTER TABLE renders ADD COLUMN settings_id INTEGER REFERENCES render_settings (id);

CREATE VIEW render_records AS
SELECT r.id AS render_id, r.param_hash,
       coalesce((SELECT json_patch(s.settings_json, r.params_json) FROM render_settings s
                 WHERE s.id = r.settings_id), r.params_json) AS params_json
FROM renders r;
