-- Hot spots of the space-time scan (rule "scan"): the cluster's circle and
-- window, its statistic and when it was last found; the scan reads a
-- matter's reports of its study period by time.

-- +goose Up
ALTER TABLE hot_spots
    ADD COLUMN grid_ids        text[]           NOT NULL DEFAULT '{}',
    ADD COLUMN radius_meters   double precision NOT NULL DEFAULT 0,
    ADD COLUMN window_days     integer          NOT NULL DEFAULT 0,
    ADD COLUMN observed        integer          NOT NULL DEFAULT 0,
    ADD COLUMN expected        double precision NOT NULL DEFAULT 0,
    ADD COLUMN llr             double precision NOT NULL DEFAULT 0,
    ADD COLUMN p_value         double precision NOT NULL DEFAULT 0,
    ADD COLUMN replicas        integer          NOT NULL DEFAULT 0,
    ADD COLUMN updated_at      timestamptz;
CREATE INDEX hot_spots_scan_idx ON hot_spots (category, updated_at) WHERE rule = 'scan';
CREATE INDEX recent_reports_time_idx ON recent_reports (category, reported_at);

-- +goose Down
DROP INDEX recent_reports_time_idx;
DROP INDEX hot_spots_scan_idx;
ALTER TABLE hot_spots DROP COLUMN grid_ids, DROP COLUMN radius_meters, DROP COLUMN window_days, DROP COLUMN observed,
    DROP COLUMN expected, DROP COLUMN llr, DROP COLUMN p_value, DROP COLUMN replicas, DROP COLUMN updated_at;
