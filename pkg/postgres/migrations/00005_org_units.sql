-- The org tree of the active catalog, as dispatch announces it (org_tree
-- events): who lies under whom, for deciding who may act where.

-- +goose Up
CREATE TABLE org_units (
    id              text PRIMARY KEY,
    parent_id       text NOT NULL DEFAULT '',
    level           text NOT NULL,
    catalog_version text NOT NULL
);
CREATE INDEX org_units_parent_idx ON org_units (parent_id);

-- +goose Down
DROP TABLE org_units;
