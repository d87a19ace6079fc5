-- Tickets as reported, and the per-day counters behind their numbers.

-- +goose Up
CREATE TABLE tickets (
    id                   uuid PRIMARY KEY,
    number               text        NOT NULL UNIQUE,
    kind                 smallint    NOT NULL,
    source               smallint    NOT NULL,
    category             text        NOT NULL,
    title                text        NOT NULL DEFAULT '',
    description          text        NOT NULL,
    grid_id              text        NOT NULL DEFAULT '',
    has_coordinates      boolean     NOT NULL DEFAULT false,
    latitude             double precision NOT NULL DEFAULT 0,
    longitude            double precision NOT NULL DEFAULT 0,
    address              text        NOT NULL DEFAULT '',
    reporter_org_unit_id text        NOT NULL,
    reporter_name        text        NOT NULL DEFAULT '',
    reporter_phone       text        NOT NULL DEFAULT '',
    synthetic            boolean     NOT NULL DEFAULT false,
    reported_at          timestamptz NOT NULL,
    idempotency_key      text        NOT NULL,
    fingerprint          text        NOT NULL,
    trace_parent         text        NOT NULL DEFAULT '',
    related_ticket_ids   uuid[]      NOT NULL DEFAULT '{}',
    UNIQUE (reporter_org_unit_id, idempotency_key)
);
CREATE INDEX tickets_reporter_idx ON tickets (reporter_org_unit_id, id DESC);
CREATE INDEX tickets_category_idx ON tickets (category, id DESC);

CREATE TABLE ticket_numbers (
    day  text   PRIMARY KEY, -- YYYYMMDD in the city's time zone
    last bigint NOT NULL     -- the highest number reserved so far
);

-- +goose Down
DROP TABLE ticket_numbers;
DROP TABLE tickets;
