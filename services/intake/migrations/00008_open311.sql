-- A ticket keeps the facts reported with it (answers to its matter's
-- attributes) and when intake heard of its last change of status; the API
-- keys of the systems that report through the Open311 gateway, hashed.

-- +goose Up
ALTER TABLE tickets
    ADD COLUMN facts      jsonb       NOT NULL DEFAULT '[]',
    ADD COLUMN updated_at timestamptz;

CREATE TABLE open311_keys (
    id              uuid        PRIMARY KEY,
    name            text        NOT NULL,
    org_unit_id     text        NOT NULL,
    source          smallint    NOT NULL,
    rate_per_minute integer     NOT NULL,
    secret_hash     bytea       NOT NULL UNIQUE,
    prefix          text        NOT NULL,
    created_at      timestamptz NOT NULL,
    created_by      text        NOT NULL,
    revoked_at      timestamptz,
    revoked_by      text        NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE open311_keys;
ALTER TABLE tickets DROP COLUMN facts, DROP COLUMN updated_at;
