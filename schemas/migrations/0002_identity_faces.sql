-- Every face found on an identity photo, not only the one whose descriptor the photo row
-- keeps: a JSON array in the detector's order (descending score), one object per face as
-- `farm-agent faces embed --json` reports it ("score", "box", "landmarks",
-- "descriptor_crop", "descriptor", ...; pixels of the analysed image) plus "used": true
-- for the face whose descriptor is in `descriptor`. NULL until analysed (and for rows
-- written before this migration). docs/faceid.md describes the fields.
--
-- Append-only like 0001_initial.sql.

ALTER TABLE identity_photos ADD COLUMN faces_json TEXT
  CHECK (faces_json IS NULL OR json_valid(faces_json));
