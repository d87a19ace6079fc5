-- The inbox of an idempotent consumer: one row per (consumer, event) it has
-- handled, written in the same transaction as the handler's effect, so a
-- redelivered event is recognised and changes nothing.

-- +goose Up
CREATE TABLE inbox (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    outcome      text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_processed_at_idx ON inbox (processed_at);

-- +goose Down
DROP TABLE inbox;
