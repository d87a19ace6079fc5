-- Evaluation codes are derived from the ticket id with a server key
-- (pkg/evalcode): no hash of them is kept any more.

-- +goose Up
ALTER TABLE tickets DROP COLUMN evaluation_code_sha256;

-- +goose Down
ALTER TABLE tickets ADD COLUMN evaluation_code_sha256 text NOT NULL DEFAULT '';
