-- When consumers are merged into one, the inbox rows of the former ones must
-- stand for the merged one too: it is delivered again what they handled just
-- before the switch. A service's migration carries the rows over and, for
-- replicas of its previous version still running during a rolling update,
-- creates a trigger on the former names:
--
--   CREATE TRIGGER inbox_carry_over BEFORE INSERT ON inbox FOR EACH ROW
--       WHEN (NEW.consumer IN ('svc-a', 'svc-b')) EXECUTE FUNCTION inbox_carry_over('svc');
--
-- Each row a former consumer records is recorded for the merged one as well;
-- if the merged one has it already, the former one's insert is skipped, so
-- that it sees a duplicate and changes nothing. The primary key settles two
-- transactions recording the same event at once.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION inbox_carry_over() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbox (consumer, event_id, outcome, processed_at)
        VALUES (TG_ARGV[0], NEW.event_id, NEW.outcome, NEW.processed_at)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION inbox_carry_over();
