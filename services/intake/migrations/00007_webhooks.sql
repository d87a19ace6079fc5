-- Webhook subscriptions (WebhookService) and their deliveries: a queue the
-- webhooks consumer fills in its inbox transaction and the delivery loop
-- empties, oldest first per subscription and ticket; a delivery given up on
-- stays as a failure. Resident notices (SMS) wait in a queue of their own.

-- +goose Up
CREATE TABLE webhooks (
    id           uuid PRIMARY KEY,
    url          text        NOT NULL,
    secret       text        NOT NULL,
    event_types  text[]      NOT NULL DEFAULT '{}',
    org_unit_ids text[]      NOT NULL DEFAULT '{}',
    description  text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    created_by   text        NOT NULL
);

CREATE TABLE webhook_deliveries (
    id            bigserial PRIMARY KEY,
    webhook_id    uuid        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id      text        NOT NULL,
    event_type    text        NOT NULL,
    ticket_id     text        NOT NULL,
    event         bytea       NOT NULL,
    traceparent   text        NOT NULL DEFAULT '',
    -- failed_at is set when the delivery was given up on; such a row is a failure.
    failed_at     timestamptz,
    next_at       timestamptz NOT NULL,
    leased_until  timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    first_try_at  timestamptz,
    http_status   integer     NOT NULL DEFAULT 0,
    error         text        NOT NULL DEFAULT '',
    UNIQUE (webhook_id, event_id)
);
-- The head of each subscription's queue per ticket, and the due ones.
CREATE INDEX webhook_deliveries_queue_idx ON webhook_deliveries (webhook_id, ticket_id, id) WHERE failed_at IS NULL;
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_at) WHERE failed_at IS NULL;
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (id) WHERE failed_at IS NOT NULL;

CREATE TABLE notices (
    id           bigserial PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    ticket_id    text        NOT NULL,
    kind         text        NOT NULL,
    next_at      timestamptz NOT NULL,
    leased_until timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    failed_at    timestamptz,
    error        text        NOT NULL DEFAULT ''
);
CREATE INDEX notices_due_idx ON notices (next_at) WHERE failed_at IS NULL;

-- +goose Down
DROP TABLE notices;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
