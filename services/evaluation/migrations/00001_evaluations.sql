-- Evaluation rounds (one per resolution of a ticket) and who reported each ticket.

-- +goose Up
CREATE TABLE evaluations (
    ticket_id             uuid        NOT NULL,
    ticket_number         text        NOT NULL,
    round                 integer     NOT NULL,
    state                 smallint    NOT NULL,
    version               bigint      NOT NULL,
    department_id         text        NOT NULL,
    result                text        NOT NULL,
    opened_at             timestamptz NOT NULL,
    verdict               smallint    NOT NULL DEFAULT 0,
    comment               text        NOT NULL DEFAULT '',
    reason_codes          text[]      NOT NULL DEFAULT '{}',
    evaluator_id          text        NOT NULL DEFAULT '',
    evaluator_org_unit_id text        NOT NULL DEFAULT '',
    evaluator_name        text        NOT NULL DEFAULT '',
    evaluated_at          timestamptz,
    synthetic             boolean     NOT NULL,
    trace_parent          text        NOT NULL DEFAULT '',
    PRIMARY KEY (ticket_id, round)
);
CREATE INDEX evaluations_open_idx ON evaluations (opened_at, ticket_id) WHERE state = 1;

CREATE TABLE reporters (
    ticket_id   uuid PRIMARY KEY,
    org_unit_id text NOT NULL
);

-- +goose Down
DROP TABLE reporters;
DROP TABLE evaluations;
