-- Accounts, sessions and the synced records (PostgreSQL).
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Normalised: trimmed, lowercase.
    email         TEXT   NOT NULL UNIQUE,
    -- Argon2id, PHC string format.
    password_hash TEXT   NOT NULL,
    -- The last sequence number given to one of this user's record versions. Pushes lock
    -- this row and increment it inside their transaction, so one user's pushes take
    -- numbers in turn and a pull never skips a version.
    last_seq      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL  -- ms since the Unix epoch
);

CREATE TABLE sessions (
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash BYTEA  PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE records (
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    collection TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    value      TEXT    NOT NULL,               -- JSON text, kept byte for byte
    hlc        TEXT    COLLATE "C" NOT NULL,   -- byte order is clock order, whatever the locale
    deleted    BOOLEAN NOT NULL,
    seq        BIGINT  NOT NULL,               -- per user, from users.last_seq
    PRIMARY KEY (user_id, collection, id)
);
CREATE UNIQUE INDEX records_by_seq ON records (user_id, seq);
