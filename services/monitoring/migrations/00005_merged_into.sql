-- The duplicates merged into a ticket (同一事项), for its timeline.

-- +goose Up
CREATE INDEX tickets_merged_into_idx ON tickets ((memory->>'merged_into')) WHERE memory ? 'merged_into';

-- +goose Down
DROP INDEX tickets_merged_into_idx;
