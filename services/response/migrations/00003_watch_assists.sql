-- Areas for filtering, assisting departments' parts, and each department's
-- change log, which WatchInbox streams from a cursor.

-- +goose Up
ALTER TABLE items ADD COLUMN area_ids text[] NOT NULL DEFAULT '{}';
CREATE INDEX items_area_idx ON items USING gin (area_ids);

CREATE TABLE assists (
    ticket_id     uuid        NOT NULL,
    department_id text        NOT NULL,
    reported      boolean     NOT NULL DEFAULT false,
    note          text        NOT NULL DEFAULT '',
    reported_at   timestamptz,
    PRIMARY KEY (ticket_id, department_id)
);
CREATE INDEX assists_department_idx ON assists (department_id, ticket_id);

-- One counter per department. A change takes the next number under the
-- counter's row lock, held until commit, so a department's changes commit in
-- the order of their numbers: a reader that has seen number n has seen every
-- change before it, and resuming after n misses and repeats nothing.
CREATE TABLE inbox_cursors (
    department_id text   PRIMARY KEY,
    seq           bigint NOT NULL
);

CREATE TABLE inbox_changes (
    department_id text        NOT NULL,
    seq           bigint      NOT NULL,
    ticket_id     uuid        NOT NULL,
    kind          smallint    NOT NULL, -- whistle.v1.InboxChangeKind
    item          bytea       NOT NULL, -- whistle.v1.InboxItem after the change
    changed_at    timestamptz NOT NULL,
    PRIMARY KEY (department_id, seq)
);
CREATE INDEX inbox_changes_changed_at_idx ON inbox_changes (changed_at);

-- +goose StatementBegin
CREATE FUNCTION inbox_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('response_inbox', NEW.department_id);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER inbox_changes_notify AFTER INSERT ON inbox_changes
    FOR EACH ROW EXECUTE FUNCTION inbox_changes_notify();

-- +goose Down
DROP TABLE inbox_changes;
DROP FUNCTION inbox_changes_notify();
DROP TABLE inbox_cursors;
DROP TABLE assists;
DROP INDEX items_area_idx;
ALTER TABLE items DROP COLUMN area_ids;
