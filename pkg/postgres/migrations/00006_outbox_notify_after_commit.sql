-- The relay is woken by a notification sent after the commit (pkg/outbox
-- Append, through postgres.Notify) instead of one sent by a trigger at
-- commit: a transaction that notifies holds a database-wide lock until its
-- commit is flushed, which made every transaction that wrote an event commit
-- alone.

-- +goose Up
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
