-- response has one consumer, "response", where it had response, response-rework, response-finish and response-supervision.
-- The merged consumer is delivered again what the former ones handled just
-- before the switch: their inbox rows are carried over, and while replicas of
-- the previous version still record under the former names, the platform's
-- inbox_carry_over trigger records each of those rows for "response" as well
-- (and skips one "response" already has).

-- +goose Up
INSERT INTO inbox (consumer, event_id, outcome, processed_at)
    SELECT 'response', event_id, outcome, processed_at FROM inbox WHERE consumer IN ('response-rework', 'response-finish', 'response-supervision')
    ON CONFLICT DO NOTHING;
CREATE TRIGGER inbox_carry_over BEFORE INSERT ON inbox FOR EACH ROW
    WHEN (NEW.consumer IN ('response-rework', 'response-finish', 'response-supervision')) EXECUTE FUNCTION inbox_carry_over('response');

-- +goose Down
DROP TRIGGER inbox_carry_over ON inbox;
