-- The org units each ticket lies in, from its grid up to the city, passed on
-- to the inbox so that departments can filter by area.

-- +goose Up
ALTER TABLE assignments ADD COLUMN area_ids text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE assignments DROP COLUMN area_ids;
