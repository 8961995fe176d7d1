-- Render inserts without the prompt columns (issue 16: 100,000 render rows/s; docs/
-- BENCHMARKS.md, "Store inserts").
--
-- 0009_renders_slim.sql made `prompt` and `negative_prompt` VIRTUAL generated columns
-- over params_json. SQLite (3.40) still computes every generated column of a row on
-- INSERT, so each render insert parsed its ~1.1 KB canonical JSON twice more for two
-- values nothing stores: a raw-SQLite harness with the store's rows inserted about 7 %
-- more rows/s without them. Readers now ask the canonical record itself,
-- `json_extract(r.params_json, '$.prompt')` (resp. '$.negative_prompt'): the query
-- catalogue's `prompt` and `negative_prompt` columns, `farmctl report`. A filter such as
-- `prompt LIKE '%golden%'` works as before; it never had an index.
--
-- Dropping a VIRTUAL column does not rewrite the table: no row holds it. params_json
-- (and with it param_hash) is unchanged byte for byte.
--
-- Append-only like 0001_initial.sql.

ALTER TABLE renders DROP COLUMN prompt;
ALTER TABLE renders DROP COLUMN negative_prompt;
