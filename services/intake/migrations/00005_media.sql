-- Photos and videos Whistle keeps (随手拍 snapshots, departments' evidence):
-- the bytes live in object storage under media/<id>, this is their record.
-- A file attached to no ticket an hour after its upload is swept away; the
-- departments a ticket was assigned to may see its files.

-- +goose Up
CREATE TABLE media (
    id           uuid PRIMARY KEY,
    name         text        NOT NULL,
    content_type text        NOT NULL DEFAULT '',
    kind         text        NOT NULL DEFAULT '',
    sha256       text        NOT NULL DEFAULT '',
    size_bytes   bigint      NOT NULL DEFAULT 0,
    width        integer     NOT NULL DEFAULT 0,
    height       integer     NOT NULL DEFAULT 0,
    orientation  integer     NOT NULL DEFAULT 0,
    stripped     text[]      NOT NULL DEFAULT '{}',
    state        smallint    NOT NULL, -- 0 storing, 1 stored, 2 being swept
    ticket_id    uuid,
    role         text        NOT NULL DEFAULT '', -- report or evidence
    uploaded_by  text        NOT NULL,
    uploaded_at  timestamptz NOT NULL
);
CREATE INDEX media_ticket_idx ON media (ticket_id, uploaded_at) WHERE ticket_id IS NOT NULL;
CREATE INDEX media_orphans_idx ON media (uploaded_at) WHERE ticket_id IS NULL;
ALTER TABLE tickets
    ADD COLUMN photo_ids   uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN departments text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE tickets DROP COLUMN photo_ids, DROP COLUMN departments;
DROP TABLE media;
