-- Dispatch's record of each ticket: how it was routed and where it stands.

-- +goose Up
CREATE TABLE assignments (
    ticket_id                uuid PRIMARY KEY,
    ticket_number            text        NOT NULL,
    status                   smallint    NOT NULL,
    version                  bigint      NOT NULL,
    category                 text        NOT NULL,
    grid_id                  text        NOT NULL,
    kind                     integer     NOT NULL,
    synthetic                boolean     NOT NULL,
    lead_department_id       text        NOT NULL DEFAULT '',
    assisting_department_ids text[]      NOT NULL DEFAULT '{}',
    accept_due               timestamptz,
    resolve_due              timestamptz,
    catalog_version          text        NOT NULL DEFAULT '',
    rule                     text        NOT NULL DEFAULT '',
    triage_org_unit_id       text        NOT NULL DEFAULT '',
    trace_parent             text        NOT NULL DEFAULT '',
    ticket                   bytea,      -- whistle.v1.Ticket as reported
    updated_at               timestamptz NOT NULL
);
CREATE INDEX assignments_lead_idx ON assignments (lead_department_id, status);
CREATE INDEX assignments_triage_idx ON assignments (triage_org_unit_id) WHERE status = 2;

-- +goose Down
DROP TABLE assignments;
