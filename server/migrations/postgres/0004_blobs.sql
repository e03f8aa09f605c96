-- Blobs: the files (a note's images) that travel with records, and which stored records
-- name them (PostgreSQL). The bytes live here, beside the records: one backup holds both.
CREATE TABLE blobs (
    account               BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of `data`, 64 lowercase hex digits.
    hash                  TEXT   NOT NULL,
    size                  BIGINT NOT NULL,
    content_type          TEXT   NOT NULL,
    created_at_ms         BIGINT NOT NULL,
    -- Since when no stored record names it (ms since the Unix epoch); NULL while one
    -- does. The sweep deletes it once this is older than the grace period.
    unreferenced_since_ms BIGINT,
    data                  BYTEA  NOT NULL,
    PRIMARY KEY (account, hash)
);
-- The account's usage, summed from the index alone.
CREATE INDEX blobs_usage ON blobs (account, size);
-- The sweep finds the unreferenced ones by age.
CREATE INDEX blobs_unreferenced ON blobs (unreferenced_since_ms)
    WHERE unreferenced_since_ms IS NOT NULL;

-- The blobs each stored record version names (its value's top-level "blobs"), replaced
-- whenever a newer version is stored; a tombstone names none. The foreign key makes it
-- impossible to name a blob the account does not hold, or to delete one still named.
CREATE TABLE blob_refs (
    account    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    collection TEXT   NOT NULL,
    record_id  TEXT   NOT NULL,
    hash       TEXT   NOT NULL,
    PRIMARY KEY (account, collection, record_id, hash),
    FOREIGN KEY (account, hash) REFERENCES blobs (account, hash)
);
CREATE INDEX blob_refs_by_hash ON blob_refs (account, hash);
