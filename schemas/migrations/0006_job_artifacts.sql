-- Every artifact of a succeeded job under its name in the result ("image", "faces",
-- "lora@1600", "dataset"), so that an agent can ask farmd for "the artifact N of the job
-- with param_hash H" (a render's trained LoRA "train:<H>@<step>" is the artifact
-- "lora@<step>" of the train job H). Written with the result, in the same transaction.
-- Results stored before this migration have no rows here.
--
-- Append-only like 0001_initial.sql.

CREATE TABLE job_artifacts (
  job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  name        TEXT    NOT NULL CHECK (length(name) > 0),
  artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
  PRIMARY KEY (job_id, name)
) WITHOUT ROWID;
CREATE INDEX job_artifacts_artifact ON job_artifacts (artifact_id);
