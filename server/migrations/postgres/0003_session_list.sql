-- What a list of one's sessions shows (PostgreSQL): a public id to name a session by
-- (random, not the token nor its hash), the device it was started on, when it was last
-- used.
ALTER TABLE sessions ADD COLUMN public_id TEXT;
-- From the `User-Agent` at sign-in, shortened; NULL when there was none.
ALTER TABLE sessions ADD COLUMN device TEXT;
-- ms since the Unix epoch; moved by requests at most once a minute.
ALTER TABLE sessions ADD COLUMN last_used_at BIGINT;
UPDATE sessions
   SET public_id = replace(gen_random_uuid()::text, '-', ''), last_used_at = created_at;
ALTER TABLE sessions ALTER COLUMN public_id SET NOT NULL;
ALTER TABLE sessions ALTER COLUMN last_used_at SET NOT NULL;
CREATE UNIQUE INDEX sessions_by_public_id ON sessions (public_id);
-- The purge of expired sessions finds them by expiry.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
