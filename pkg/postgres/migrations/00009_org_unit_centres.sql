-- A unit's centre (a grid's), where the catalog gives one: the hot spot
-- scan draws its circles around the grids' centres.

-- +goose Up
ALTER TABLE org_units ADD COLUMN latitude double precision, ADD COLUMN longitude double precision;

-- +goose Down
ALTER TABLE org_units DROP COLUMN latitude, DROP COLUMN longitude;
