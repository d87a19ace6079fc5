-- The hotline call-backs recorded (回访抽查), once per drawn ticket. Not a
-- read model: a rebuild keeps them (the called_back events replay into the
-- figures); the drawn tickets are found by their state's memory.

-- +goose Up
CREATE TABLE call_backs (
    ticket_id    uuid        PRIMARY KEY,
    reached      boolean     NOT NULL,
    verdict      smallint    NOT NULL,
    note         text        NOT NULL,
    recorded_by  text        NOT NULL,
    recorded_at  timestamptz NOT NULL
);
CREATE INDEX tickets_call_back_idx ON tickets ((memory->>'closed_at'), ticket_id) WHERE memory ? 'call_back';

-- +goose Down
DROP INDEX tickets_call_back_idx;
DROP TABLE call_backs;
