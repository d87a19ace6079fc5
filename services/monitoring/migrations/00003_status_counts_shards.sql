-- The status counts are kept in shards: each projecting transaction adds to
-- one shard of its choice, so transactions applied side by side do not queue
-- for the same few rows until each one's commit is on disk. A status's count
-- is the sum over its shards.

-- +goose Up
ALTER TABLE status_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE status_counts DROP CONSTRAINT status_counts_pkey;
ALTER TABLE status_counts ADD PRIMARY KEY (status, synthetic, shard);

-- +goose Down
CREATE TEMPORARY TABLE status_counts_summed AS
    SELECT status, synthetic, sum(n)::bigint AS n FROM status_counts GROUP BY status, synthetic;
TRUNCATE status_counts;
ALTER TABLE status_counts DROP CONSTRAINT status_counts_pkey;
ALTER TABLE status_counts DROP COLUMN shard;
INSERT INTO status_counts (status, synthetic, n) SELECT status, synthetic, n FROM status_counts_summed;
ALTER TABLE status_counts ADD PRIMARY KEY (status, synthetic);
