-- evaluation has one consumer, "evaluation", where it had evaluation, evaluation-reporters and evaluation-areas.
-- The merged consumer is delivered again what the former ones handled just
-- before the switch: their inbox rows are carried over, and while replicas of
-- the previous version still record under the former names, the platform's
-- inbox_carry_over trigger records each of those rows for "evaluation" as well
-- (and skips one "evaluation" already has).

-- +goose Up
INSERT INTO inbox (consumer, event_id, outcome, processed_at)
    SELECT 'evaluation', event_id, outcome, processed_at FROM inbox WHERE consumer IN ('evaluation-reporters', 'evaluation-areas')
    ON CONFLICT DO NOTHING;
CREATE TRIGGER inbox_carry_over BEFORE INSERT ON inbox FOR EACH ROW
    WHEN (NEW.consumer IN ('evaluation-reporters', 'evaluation-areas')) EXECUTE FUNCTION inbox_carry_over('evaluation');

-- +goose Down
DROP TRIGGER inbox_carry_over ON inbox;
