-- Events the relay could not publish for a reason no retry cures (larger than
-- NATS takes in one message): the relay settles the row (sent_at) so that the
-- events behind it go out, and records why it gave up (dead_reason) and the
-- dead letter that holds the event (dead_letter_seq, in the <stream>_DLQ
-- stream). Without a dead letter holding it, the row keeps the only copy and
-- is never purged.

-- +goose Up
ALTER TABLE outbox
    ADD COLUMN dead_reason text,
    ADD COLUMN dead_letter_seq bigint;
CREATE INDEX outbox_kept_dead_idx ON outbox (id) WHERE dead_reason IS NOT NULL AND dead_letter_seq IS NULL;

-- +goose Down
DROP INDEX outbox_kept_dead_idx;
ALTER TABLE outbox
    DROP COLUMN dead_letter_seq,
    DROP COLUMN dead_reason;
