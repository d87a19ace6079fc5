-- A recent report keeps its whole place (grid up to city), so that the hot
-- spot rules can judge it again when an earlier report is routed after it.
-- Reports kept before this have none (cardinality 0) and are not judged
-- again.

-- +goose Up
ALTER TABLE recent_reports ADD COLUMN area_ids text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE recent_reports DROP COLUMN area_ids;
