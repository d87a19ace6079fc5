-- Evaluation windows closed by a default verdict, evaluation sources, and
-- what is needed to check who may evaluate: the ticket's area and the hash of
-- the resident's one-time code.

-- +goose Up
ALTER TABLE evaluations
    ADD COLUMN source          smallint NOT NULL DEFAULT 0,
    ADD COLUMN default_verdict boolean  NOT NULL DEFAULT false,
    ADD COLUMN due_at          timestamptz;
CREATE INDEX evaluations_due_idx ON evaluations (due_at) WHERE state = 1;

ALTER TABLE reporters RENAME TO tickets;
ALTER TABLE tickets
    ADD COLUMN area_ids    text[] NOT NULL DEFAULT '{}',
    ADD COLUMN code_sha256 text   NOT NULL DEFAULT '';
ALTER TABLE tickets ALTER COLUMN org_unit_id SET DEFAULT '';

-- +goose Down
ALTER TABLE tickets DROP COLUMN area_ids, DROP COLUMN code_sha256;
ALTER TABLE tickets RENAME TO reporters;
DROP INDEX evaluations_due_idx;
ALTER TABLE evaluations DROP COLUMN source, DROP COLUMN default_verdict, DROP COLUMN due_at;
