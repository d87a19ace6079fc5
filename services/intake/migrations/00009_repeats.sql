-- A closed ticket whose matter was reported again at its place within the
-- repeat window (docs/metrics.md, "stayed resolved"): the report that
-- repeated it, recorded once.

-- +goose Up
ALTER TABLE tickets ADD COLUMN repeated_by uuid;

-- +goose Down
ALTER TABLE tickets DROP COLUMN repeated_by;
