-- What an agent measured while running an attempt: the JobResult's metrics as a JSON
-- object of numbers (for a render: seconds per stage and per model, model cache hits,
-- faces found). NULL when the agent reported none (or before this migration).
--
-- Append-only like 0001_initial.sql.

ALTER TABLE attempts ADD COLUMN metrics_json TEXT;
