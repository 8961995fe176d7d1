-- What a render's recipe did, stage by stage.
--
-- The image after each stage of a render's recipe ("txt2img", "detailer#1", ...), kept
-- when the agents were asked to upload them (farm-agent --keep-stage-images, farmctl run
-- --stage-images). The final image stays renders.artifact_id.
--
-- Append-only like 0001_initial.sql.

CREATE TABLE render_stage_images (
  render_id   INTEGER NOT NULL REFERENCES renders (id) ON DELETE CASCADE,
  stage       TEXT    NOT NULL CHECK (length(stage) > 0),
  artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
  PRIMARY KEY (render_id, stage)
);

-- The recipe's record of the render (agent "record" artifact, JSON): every stage's
-- settings as applied, defaults filled in, so a render stays explainable when a stage's
-- defaults change. NULL for renders made before this migration.
ALTER TABLE renders ADD COLUMN record_artifact_id INTEGER REFERENCES artifacts (id);
