-- Read models built from every event: each ticket's state and timeline, and
-- live counts per status.

-- +goose Up
CREATE TABLE tickets (
    ticket_id          uuid PRIMARY KEY,
    ticket_number      text        NOT NULL DEFAULT '',
    status             smallint    NOT NULL,
    version            bigint      NOT NULL,
    escalation_level   integer     NOT NULL DEFAULT 0,
    lead_department_id text        NOT NULL DEFAULT '',
    category           text        NOT NULL DEFAULT '',
    rework_count       integer     NOT NULL DEFAULT 0,
    synthetic          boolean     NOT NULL DEFAULT false,
    reported_at        timestamptz,
    updated_at         timestamptz NOT NULL,
    trace_id           text        NOT NULL DEFAULT ''
);

CREATE TABLE timeline (
    ticket_id         uuid        NOT NULL,
    event_id          uuid        NOT NULL,
    event_type        text        NOT NULL,
    version           bigint      NOT NULL,
    transition        boolean     NOT NULL,
    occurred_at       timestamptz NOT NULL,
    actor_id          text        NOT NULL DEFAULT '',
    actor_org_unit_id text        NOT NULL DEFAULT '',
    actor_name        text        NOT NULL DEFAULT '',
    producer          text        NOT NULL,
    trace_id          text        NOT NULL DEFAULT '',
    status            smallint    NOT NULL,
    summary           text        NOT NULL DEFAULT '',
    PRIMARY KEY (ticket_id, event_id)
);
CREATE INDEX timeline_order_idx ON timeline (ticket_id, version);

CREATE TABLE status_counts (
    status    smallint NOT NULL,
    synthetic boolean  NOT NULL,
    n         bigint   NOT NULL,
    PRIMARY KEY (status, synthetic)
);

-- +goose Down
DROP TABLE status_counts;
DROP TABLE timeline;
DROP TABLE tickets;
