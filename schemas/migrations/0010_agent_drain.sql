-- An operator's drain request (`farmctl agents drain`): the agent keeps and finishes
-- its leases and gets no new work. Kept apart from `state`, which says what the agent
-- is doing now (online, offline, ...), because the request outlives the connection: a
-- drained agent that reconnects or restarts, or a farmd that restarts, keeps it until
-- `farmctl agents resume`.
--
-- Append-only like 0001_initial.sql.

ALTER TABLE agents ADD COLUMN drain_requested INTEGER NOT NULL DEFAULT 0
  CHECK (drain_requested IN (0, 1));
