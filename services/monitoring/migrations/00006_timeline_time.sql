-- The entries of a period, across tickets (ListUpdates), in page order.

-- +goose Up
CREATE INDEX timeline_time_idx ON timeline (occurred_at, ticket_id, event_id);

-- +goose Down
DROP INDEX timeline_time_idx;
