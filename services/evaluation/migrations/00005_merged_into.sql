-- A duplicate merged into its original (同一事项): its resident judges the
-- original's result with the duplicate's own code.

-- +goose Up
ALTER TABLE tickets ADD COLUMN merged_into uuid;

-- +goose Down
ALTER TABLE tickets DROP COLUMN merged_into;
