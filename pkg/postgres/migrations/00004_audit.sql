-- The audit log: one row per change made through the API, written in the
-- transaction that makes the change (pkg/audit), saying who (the principal),
-- what (action, ticket, event), from where and in which trace. Rows are only
-- ever added: triggers refuse UPDATE, DELETE and TRUNCATE.

-- +goose Up
CREATE TABLE audit (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    subject     text        NOT NULL DEFAULT '',
    org_unit_id text        NOT NULL DEFAULT '',
    roles       text[]      NOT NULL DEFAULT '{}',
    via         text        NOT NULL DEFAULT '', -- how the principal was established: jwt, mtls, code
    action      text        NOT NULL,            -- an event type ("accepted") or an operation ("catalog.activate")
    ticket_id   uuid,
    event_id    uuid,
    detail      text        NOT NULL DEFAULT '',
    remote_addr text        NOT NULL DEFAULT '',
    trace_id    text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_ticket_at_idx ON audit (ticket_id, at);
CREATE INDEX audit_at_idx ON audit (at);

-- +goose StatementBegin
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on %.audit is not allowed', TG_OP, TG_TABLE_SCHEMA;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_no_update_or_delete BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- +goose Down
DROP TABLE audit;
DROP FUNCTION audit_append_only();
