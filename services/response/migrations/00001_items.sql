-- Departments' inboxes: one item per dispatched ticket, with the work done on it.

-- +goose Up
CREATE TABLE items (
    ticket_id      uuid PRIMARY KEY,
    ticket_number  text        NOT NULL,
    department_id  text        NOT NULL,
    status         smallint    NOT NULL,
    version        bigint      NOT NULL,
    category       text        NOT NULL,
    title          text        NOT NULL DEFAULT '',
    synthetic      boolean     NOT NULL,
    accept_due     timestamptz,
    resolve_due    timestamptz,
    dispatched_at  timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    rework_count   integer     NOT NULL DEFAULT 0,
    rework_reasons text[]      NOT NULL DEFAULT '{}',
    rework_comment text        NOT NULL DEFAULT '',
    result         text        NOT NULL DEFAULT '',
    trace_parent   text        NOT NULL DEFAULT '',
    ticket         bytea,      -- whistle.v1.Ticket as reported
    next_due       timestamptz NOT NULL -- the deadline the department faces next; far future when none
);
CREATE INDEX items_inbox_idx ON items (department_id, status, next_due, ticket_id);

-- +goose Down
DROP TABLE items;
