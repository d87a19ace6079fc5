-- Idempotent requests: the first response to each (scope, request id), so
-- that a retried call returns it and changes nothing.

-- +goose Up
CREATE TABLE requests (
    scope      text        NOT NULL, -- who asked: the acting org unit
    request_id text        NOT NULL,
    method     text        NOT NULL,
    response   bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, request_id)
);
CREATE INDEX requests_created_at_idx ON requests (created_at);

-- +goose Down
DROP TABLE requests;
