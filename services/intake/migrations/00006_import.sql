-- Tickets brought in from another system (ImportTickets): their id there,
-- which makes an import idempotent, and a mark that they are history.

-- +goose Up
ALTER TABLE tickets
    ADD COLUMN external_id text,
    ADD COLUMN imported    boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX tickets_external_idx ON tickets (external_id) WHERE external_id IS NOT NULL;

-- +goose Down
DROP INDEX tickets_external_idx;
ALTER TABLE tickets DROP COLUMN external_id, DROP COLUMN imported;
