-- The database's epoch (PostgreSQL): a random id, set when a server first opens the
-- database and replaced by `--new-epoch` after a backup is restored. Pull cursors belong
-- to one epoch; a device that sees another starts its sync over.
CREATE TABLE cairn_epoch (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),  -- one row
    epoch      TEXT     NOT NULL,  -- 128 bits, lowercase hex
    created_at BIGINT   NOT NULL   -- ms since the Unix epoch
);
