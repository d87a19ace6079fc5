-- Deadlines and supervision, ownership, returns and arbitration, extensions,
-- and versioned catalogs.

-- +goose Up
ALTER TABLE assignments
    ADD COLUMN owner_department_id text        NOT NULL DEFAULT '',
    ADD COLUMN wall_clock          boolean     NOT NULL DEFAULT false,
    ADD COLUMN accept_within       text        NOT NULL DEFAULT '',
    ADD COLUMN resolve_within      text        NOT NULL DEFAULT '',
    ADD COLUMN paused_at           timestamptz,
    ADD COLUMN escalation_level    integer     NOT NULL DEFAULT 0,
    ADD COLUMN next_check          timestamptz,
    ADD COLUMN return_count        integer     NOT NULL DEFAULT 0,
    ADD COLUMN returners           text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN binding             boolean     NOT NULL DEFAULT false,
    ADD COLUMN arbitration         boolean     NOT NULL DEFAULT false,
    ADD COLUMN extension_due       timestamptz,
    ADD COLUMN extension_reason    text        NOT NULL DEFAULT '';
-- The deadline scheduler's queue: what to look at next, soonest first.
CREATE INDEX assignments_next_check_idx ON assignments (next_check) WHERE next_check IS NOT NULL;

CREATE TABLE catalogs (
    version      text PRIMARY KEY,
    source       bytea       NOT NULL,
    sha256       text        NOT NULL,
    imported_at  timestamptz NOT NULL,
    imported_by  text        NOT NULL,
    active       boolean     NOT NULL DEFAULT false,
    activated_at timestamptz
);
CREATE UNIQUE INDEX catalogs_one_active_idx ON catalogs (active) WHERE active;

-- +goose Down
DROP TABLE catalogs;
DROP INDEX assignments_next_check_idx;
ALTER TABLE assignments
    DROP COLUMN owner_department_id, DROP COLUMN wall_clock, DROP COLUMN accept_within,
    DROP COLUMN resolve_within, DROP COLUMN paused_at, DROP COLUMN escalation_level, DROP COLUMN next_check,
    DROP COLUMN return_count, DROP COLUMN returners, DROP COLUMN binding, DROP COLUMN arbitration,
    DROP COLUMN extension_due, DROP COLUMN extension_reason;
