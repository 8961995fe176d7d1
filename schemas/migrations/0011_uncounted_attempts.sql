-- Attempts not held against a job's max_attempts: offers an agent refused unrun because
-- all its slots were busy, and offers lost on the wire (the agent's heartbeat showed it
-- never got them). Stored so that a farmd restart counts them as the farmd before did.
--
-- Append-only like 0001_initial.sql.

ALTER TABLE attempts ADD COLUMN counted INTEGER NOT NULL DEFAULT 1 CHECK (counted IN (0, 1));
