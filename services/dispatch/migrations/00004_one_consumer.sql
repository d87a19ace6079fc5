-- dispatch has one consumer, "dispatch", where it had dispatch, dispatch-follow and dispatch-notes.
-- The merged consumer is delivered again what the former ones handled just
-- before the switch: their inbox rows are carried over, and while replicas of
-- the previous version still record under the former names, the platform's
-- inbox_carry_over trigger records each of those rows for "dispatch" as well
-- (and skips one "dispatch" already has).

-- +goose Up
INSERT INTO inbox (consumer, event_id, outcome, processed_at)
    SELECT 'dispatch', event_id, outcome, processed_at FROM inbox WHERE consumer IN ('dispatch-follow', 'dispatch-notes')
    ON CONFLICT DO NOTHING;
CREATE TRIGGER inbox_carry_over BEFORE INSERT ON inbox FOR EACH ROW
    WHEN (NEW.consumer IN ('dispatch-follow', 'dispatch-notes')) EXECUTE FUNCTION inbox_carry_over('dispatch');

-- +goose Down
DROP TRIGGER inbox_carry_over ON inbox;
