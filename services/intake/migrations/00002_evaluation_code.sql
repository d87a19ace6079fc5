-- The hash of each ticket's one-time evaluation code, given to the reporting
-- resident; the code itself is never stored.

-- +goose Up
ALTER TABLE tickets ADD COLUMN evaluation_code_sha256 text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tickets DROP COLUMN evaluation_code_sha256;
