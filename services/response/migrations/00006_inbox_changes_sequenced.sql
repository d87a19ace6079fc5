-- Inbox changes are numbered after they commit, by one sequencer at a time,
-- instead of by the transaction that makes them: a per-department counter
-- taken by every change held that department's counter row until the
-- commit was on disk, so a department's changes committed one after
-- another. A change is written with no number (seq NULL) and an id in
-- insertion order; the sequencer numbers the committed ones per department
-- in id order, so a reader that has seen number n of a department has seen
-- every change numbered before it, and never sees an unnumbered one.

-- +goose Up
ALTER TABLE inbox_changes DROP CONSTRAINT inbox_changes_pkey;
ALTER TABLE inbox_changes ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE inbox_changes ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE UNIQUE INDEX inbox_changes_seq_idx ON inbox_changes (department_id, seq);
CREATE INDEX inbox_changes_pending_idx ON inbox_changes (id) WHERE seq IS NULL;

-- +goose Down
DELETE FROM inbox_changes WHERE seq IS NULL;
DROP INDEX inbox_changes_pending_idx;
DROP INDEX inbox_changes_seq_idx;
ALTER TABLE inbox_changes DROP COLUMN id;
ALTER TABLE inbox_changes ALTER COLUMN seq SET NOT NULL;
ALTER TABLE inbox_changes ADD PRIMARY KEY (department_id, seq);
