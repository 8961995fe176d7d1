-- The faces a render job found in its final image: the agent's "faces" artifact (JSON:
-- face model version, each face's box and descriptor). farmd scores the render against
-- identities from it. NULL when the render ran without face models (or before this
-- migration).
--
-- Append-only like 0001_initial.sql.

ALTER TABLE renders ADD COLUMN faces_artifact_id INTEGER REFERENCES artifacts (id);
