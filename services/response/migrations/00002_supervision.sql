-- What the inbox shows of supervision: escalation level, a paused clock, a
-- binding arbitration, a pending request for more time.

-- +goose Up
ALTER TABLE items
    ADD COLUMN escalation_level integer     NOT NULL DEFAULT 0,
    ADD COLUMN paused           boolean     NOT NULL DEFAULT false,
    ADD COLUMN binding          boolean     NOT NULL DEFAULT false,
    ADD COLUMN extension_due    timestamptz;

-- +goose Down
ALTER TABLE items DROP COLUMN escalation_level, DROP COLUMN paused, DROP COLUMN binding, DROP COLUMN extension_due;
