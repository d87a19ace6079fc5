-- Likely duplicates (同一事项): each ticket's S2 leaf cell (pkg/geo) for a
-- lookup by place, and its status and version as intake last heard of them,
-- so that only open tickets are offered. Tickets reported before this
-- migration have no cell: they are found by grid only.

-- +goose Up
ALTER TABLE tickets
    ADD COLUMN cell    bigint,
    ADD COLUMN status  smallint NOT NULL DEFAULT 1,
    ADD COLUMN version bigint   NOT NULL DEFAULT 1;
CREATE INDEX tickets_open_cell_idx ON tickets (category, cell) WHERE status NOT IN (6, 9, 10) AND cell IS NOT NULL;
CREATE INDEX tickets_open_grid_idx ON tickets (category, grid_id, reported_at) WHERE status NOT IN (6, 9, 10);

-- +goose Down
DROP INDEX tickets_open_grid_idx;
DROP INDEX tickets_open_cell_idx;
ALTER TABLE tickets DROP COLUMN cell, DROP COLUMN status, DROP COLUMN version;
