-- Evaluation codes are derived from the ticket id with a server key
-- (pkg/evalcode): no hash of them is kept. What is kept instead: how many
-- wrong codes were tried on a ticket (its code is locked after a handful) and
-- the round its code last gave the verdict of (once per round).

-- +goose Up
ALTER TABLE tickets
    DROP COLUMN code_sha256,
    ADD COLUMN code_failures   integer NOT NULL DEFAULT 0,
    ADD COLUMN code_used_round integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE tickets
    DROP COLUMN code_failures,
    DROP COLUMN code_used_round,
    ADD COLUMN code_sha256 text NOT NULL DEFAULT '';
