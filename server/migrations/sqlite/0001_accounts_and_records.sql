-- Accounts, sessions and the synced records (SQLite).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    -- Normalised: trimmed, lowercase.
    email         TEXT    NOT NULL UNIQUE,
    -- Argon2id, PHC string format.
    password_hash TEXT    NOT NULL,
    -- The last sequence number given to one of this user's record versions. Pushes
    -- increment it inside their transaction, so one user's pushes take numbers in turn.
    last_seq      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL  -- ms since the Unix epoch
);

CREATE TABLE sessions (
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE records (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    collection TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    value      TEXT    NOT NULL,  -- JSON text
    hlc        TEXT    NOT NULL,  -- encoded so that byte order is clock order
    deleted    INTEGER NOT NULL,  -- 0 or 1
    seq        INTEGER NOT NULL,  -- per user, from users.last_seq
    PRIMARY KEY (user_id, collection, id)
);
CREATE UNIQUE INDEX records_by_seq ON records (user_id, seq);
