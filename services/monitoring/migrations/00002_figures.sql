-- Figures kept incrementally: facts and stage times per org unit and cohort
-- day (and month), live open and overdue counts, reports per matter and area,
-- and hot spots. A scorecard reads a unit's rows for the days and months of
-- its period, however many tickets there are.

-- +goose Up
ALTER TABLE tickets
    ADD COLUMN area_ids      text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN overdue       boolean NOT NULL DEFAULT false,
    ADD COLUMN overdue_stage text    NOT NULL DEFAULT '',
    ADD COLUMN stage_due     timestamptz,
    ADD COLUMN memory        jsonb   NOT NULL DEFAULT '{}';
CREATE INDEX tickets_overdue_idx ON tickets (escalation_level DESC, stage_due, ticket_id) WHERE overdue AND NOT synthetic;
CREATE INDEX tickets_area_idx ON tickets USING gin (area_ids);

CREATE TABLE scores (
    unit_id text   NOT NULL,
    day     date   NOT NULL,
    fact    text   NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (unit_id, day, fact)
);

CREATE TABLE stage_times (
    unit_id text     NOT NULL,
    day     date     NOT NULL,
    stage   text     NOT NULL,
    bucket  smallint NOT NULL, -- see docs/metrics.md
    n       bigint   NOT NULL,
    seconds bigint   NOT NULL,
    PRIMARY KEY (unit_id, day, stage, bucket)
);

-- The same, summed per calendar month (month = its first day), so that a
-- long period reads a row per month rather than per day.
CREATE TABLE scores_monthly (
    unit_id text   NOT NULL,
    month   date   NOT NULL,
    fact    text   NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (unit_id, month, fact)
);

CREATE TABLE stage_times_monthly (
    unit_id text     NOT NULL,
    month   date     NOT NULL,
    stage   text     NOT NULL,
    bucket  smallint NOT NULL,
    n       bigint   NOT NULL,
    seconds bigint   NOT NULL,
    PRIMARY KEY (unit_id, month, stage, bucket)
);

-- The org units seen, with their level (community, street, district, city,
-- department) and the units above them, for rankings.
CREATE TABLE units (
    unit_id text   PRIMARY KEY,
    kind    text   NOT NULL,
    path    text[] NOT NULL
);

CREATE TABLE live (
    unit_id text   PRIMARY KEY,
    open    bigint NOT NULL DEFAULT 0,
    overdue bigint NOT NULL DEFAULT 0
);

CREATE TABLE categories (
    unit_id  text   NOT NULL,
    category text   NOT NULL,
    day      date   NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (unit_id, category, day)
);

CREATE TABLE recent_reports (
    ticket_id   uuid        PRIMARY KEY,
    category    text        NOT NULL,
    grid_id     text        NOT NULL,
    community   text        NOT NULL,
    district    text        NOT NULL,
    reported_at timestamptz NOT NULL
);
CREATE INDEX recent_reports_grid_idx ON recent_reports (category, grid_id, reported_at);
CREATE INDEX recent_reports_community_idx ON recent_reports (category, community, reported_at);
CREATE INDEX recent_reports_district_idx ON recent_reports (category, district, reported_at);

CREATE TABLE hot_spots (
    id                  text        PRIMARY KEY,
    rule                text        NOT NULL,
    category            text        NOT NULL,
    org_unit_id         text        NOT NULL,
    area_ids            text[]      NOT NULL,
    ticket_ids          uuid[]      NOT NULL,
    explanation         text        NOT NULL,
    detected_at         timestamptz NOT NULL,
    proactive_ticket_id uuid
);
CREATE INDEX hot_spots_place_idx ON hot_spots (rule, org_unit_id, category, detected_at);

-- +goose Down
DROP TABLE hot_spots;
DROP TABLE recent_reports;
DROP TABLE categories;
DROP TABLE live;
DROP TABLE units;
DROP TABLE stage_times_monthly;
DROP TABLE scores_monthly;
DROP TABLE stage_times;
DROP TABLE scores;
DROP INDEX tickets_area_idx;
DROP INDEX tickets_overdue_idx;
ALTER TABLE tickets DROP COLUMN area_ids, DROP COLUMN overdue, DROP COLUMN overdue_stage, DROP COLUMN stage_due,
    DROP COLUMN memory;
