-- Watchers are woken by notifications sent after the commit (writeChanges,
-- through postgres.Notify) instead of one sent by a trigger at commit: a
-- transaction that notifies holds a database-wide lock until its commit is
-- flushed, which made every change to an inbox commit alone.

-- +goose Up
DROP TRIGGER inbox_changes_notify ON inbox_changes;
DROP FUNCTION inbox_changes_notify();

-- +goose Down
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
