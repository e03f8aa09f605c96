//! PostgreSQL's SQL. A push locks its user's row (`SELECT ... FOR NO KEY UPDATE`) before
//! it reads anything, so one user's pushes run one at a time while different users'
//! pushes run side by side (within one process they already queue before taking a
//! connection; the row lock orders them across processes). `NO KEY`: the lock does not
//! conflict with the `KEY SHARE` lock a new session's foreign key takes, so pushes never
//! hold up that user's log-ins. Every connection has a `lock_timeout`; batches travel as
//! arrays expanded by `UNNEST`, so a push is a fixed number of prepared statements
//! whatever its size. Each migration's transaction holds an advisory lock, so several
//! servers can start on one database at once.
//!
//! A push that stores something also sends `pg_notify('cairn_sync', '<user>:<seq_after>')`
//! in its transaction, so every server process on the database hears of it when it
//! commits ([`listen`], `crate::events`). (PostgreSQL orders the commits of notifying
//! transactions under one lock: one more reason a push is one short transaction.)

use sqlx::PgPool;

use crate::events::Hub;

use cairn_protocol::api::{PushResponse, ServerClock};

use super::migrations::{self, Dialect, Migration};
use super::{
    fetch_limit, held_clocks, plan_push_with_blobs, take_page, BlobContent, DbError, NewBlob,
    NewSession, PushBatch, PushPlan, PutBlob, RecordRow, SessionRow, StoredRecord, UserId,
    PULL_PAGE_BYTES,
};

/// The channel pushes notify on and every server process listens to.
pub(super) const CHANNEL: &str = "cairn_sync";

/// The user's head and how many of their records are numbered above `$2` (an index
/// range count), in one statement: one round trip per page, not two.
const HEAD_AND_REMAINING: &str = "
    SELECT (SELECT last_seq FROM users WHERE id = $1),
           (SELECT count(*) FROM records WHERE user_id = $1 AND seq > $2)";

/// How the migration runner works on PostgreSQL: each migration's transaction first takes
/// an advisory transaction lock (key 0x63_61_69_72_6e, "cairn" in ASCII, as servers before
/// this runner took too), which other servers' runners wait for until it ends.
const MIGRATION_DIALECT: Dialect = Dialect {
    begin: "BEGIN",
    lock: Some("SELECT pg_advisory_xact_lock(426836062830)"),
    create_table: "CREATE TABLE IF NOT EXISTS cairn_migrations (
                       version    BIGINT PRIMARY KEY,
                       name       TEXT   NOT NULL,
                       applied_at BIGINT NOT NULL
                   )",
    record: "INSERT INTO cairn_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
    sql: |m| m.postgres,
};

/// Applies the pending `migrations` ([`migrations::run`]).
pub(super) async fn migrate(pool: &PgPool, migrations: &[Migration]) -> Result<usize, DbError> {
    migrations::run(pool, &MIGRATION_DIALECT, migrations).await
}

/// The stored epoch; `fresh` is stored first if there is none. Of several servers
/// starting at once, the first insert wins; the others' do nothing (waiting for the
/// winner to commit) and read the winner's back.
pub(super) async fn epoch(pool: &PgPool, fresh: &str, now_ms: i64) -> Result<String, DbError> {
    const EPOCH: &str = "SELECT epoch FROM cairn_epoch WHERE id = 1";
    if let Some(epoch) = sqlx::query_scalar(EPOCH).fetch_optional(pool).await? {
        return Ok(epoch);
    }
    sqlx::query(
        "INSERT INTO cairn_epoch (id, epoch, created_at) VALUES (1, $1, $2)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(fresh)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(sqlx::query_scalar(EPOCH).fetch_one(pool).await?)
}

/// Replaces the stored epoch.
pub(super) async fn set_epoch(pool: &PgPool, epoch: &str, now_ms: i64) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO cairn_epoch (id, epoch, created_at) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET epoch = EXCLUDED.epoch, created_at = EXCLUDED.created_at",
    )
    .bind(epoch)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn head(pool: &PgPool, user: UserId) -> Result<i64, DbError> {
    let head: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM users WHERE id = $1")
        .bind(user)
        .fetch_optional(pool)
        .await?;
    Ok(head.unwrap_or(0))
}

pub(super) async fn create_user(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<Option<UserId>, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (email) DO NOTHING
         RETURNING id",
    )
    .bind(email)
    .bind(password_hash)
    .bind(now_ms)
    .fetch_optional(pool)
    .await?)
}

pub(super) async fn user_by_email(
    pool: &PgPool,
    email: &str,
) -> Result<Option<(UserId, String)>, DbError> {
    Ok(
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(pool)
            .await?,
    )
}

pub(super) async fn create_session(
    pool: &PgPool,
    session: &NewSession<'_>,
    public_id: &str,
) -> Result<u64, DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2")
        .bind(session.user)
        .bind(session.now_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions
             (token_hash, user_id, created_at, expires_at, public_id, device, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $3)",
    )
    .bind(session.token_hash)
    .bind(session.user)
    .bind(session.now_ms)
    .bind(session.expires_at_ms)
    .bind(public_id)
    .bind(session.device)
    .execute(&mut *tx)
    .await?;
    let ended = match i64::try_from(session.max_per_user) {
        Ok(0) | Err(_) => 0,
        // The new one stays, and the most recently used others up to the cap.
        Ok(max) => sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND token_hash IN (
                     SELECT token_hash FROM sessions
                     WHERE user_id = $1 AND token_hash <> $2
                     ORDER BY last_used_at DESC, created_at DESC
                     OFFSET $3)",
        )
        .bind(session.user)
        .bind(session.token_hash)
        .bind(max - 1)
        .execute(&mut *tx)
        .await?
        .rows_affected(),
    };
    tx.commit().await?;
    Ok(ended)
}

/// One statement: the read, and the write of `last_used_at` only when it is stale (an
/// update that changes no key column takes no lock on the user's row).
pub(super) async fn session_user(
    pool: &PgPool,
    token_hash: &[u8],
    now_ms: i64,
    touch_if_before_ms: i64,
) -> Result<Option<UserId>, DbError> {
    Ok(sqlx::query_scalar(
        "WITH touched AS (
             UPDATE sessions SET last_used_at = $2
             WHERE token_hash = $1 AND expires_at > $2 AND last_used_at <= $3
         )
         SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now_ms)
    .bind(touch_if_before_ms)
    .fetch_optional(pool)
    .await?)
}

pub(super) async fn list_sessions(
    pool: &PgPool,
    user: UserId,
    current_token_hash: &[u8],
    now_ms: i64,
) -> Result<Vec<SessionRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT public_id, device, created_at, last_used_at, expires_at, token_hash = $2
         FROM sessions
         WHERE user_id = $1 AND expires_at > $3
         ORDER BY last_used_at DESC, created_at DESC, public_id",
    )
    .bind(user)
    .bind(current_token_hash)
    .bind(now_ms)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn end_other_sessions(
    pool: &PgPool,
    user: UserId,
    keep_token_hash: &[u8],
) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user)
        .bind(keep_token_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn end_session(
    pool: &PgPool,
    user: UserId,
    public_id: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND public_id = $2")
        .bind(user)
        .bind(public_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn purge_expired_sessions(
    pool: &PgPool,
    now_ms: i64,
    batch: i64,
) -> Result<u64, DbError> {
    let done = sqlx::query(
        "DELETE FROM sessions WHERE token_hash IN (
             SELECT token_hash FROM sessions WHERE expires_at <= $1 LIMIT $2)",
    )
    .bind(now_ms)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn delete_session(pool: &PgPool, token_hash: &[u8]) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Takes the user's row lock and reads the stored clocks of the pushed keys (`$2`, `$3`),
/// with whether each stored version names blobs, in one statement. Every row carries the
/// counter twice: `locked` as the lock returned it (the latest committed version) and
/// `seen` as the statement's snapshot has it. They differ only when another push of the
/// user committed after the snapshot was taken (while this one waited for the lock): then
/// the clocks read are stale and [`HELD`] reads them again, under the lock.
const LOCK_AND_HELD: &str = "
    WITH u AS (SELECT last_seq FROM users WHERE id = $1 FOR NO KEY UPDATE)
    SELECT u.last_seq, (SELECT last_seq FROM users WHERE id = $1),
           h.collection, h.id, h.hlc, h.has_refs
    FROM u LEFT JOIN (
        SELECT r.collection, r.id, r.hlc,
               EXISTS (SELECT 1 FROM blob_refs AS b
                       WHERE b.account = $1 AND b.collection = r.collection
                         AND b.record_id = r.id) AS has_refs
        FROM UNNEST($2::text[], $3::text[]) AS k (collection, id)
        JOIN records AS r
          ON r.user_id = $1 AND r.collection = k.collection AND r.id = k.id
    ) AS h ON true";

/// The stored clocks of the pushed keys, with whether each stored version names blobs.
const HELD: &str = "
    SELECT r.collection, r.id, r.hlc,
           EXISTS (SELECT 1 FROM blob_refs AS b
                   WHERE b.account = $1 AND b.collection = r.collection
                     AND b.record_id = r.id)
    FROM UNNEST($2::text[], $3::text[]) AS k (collection, id)
    JOIN records AS r
      ON r.user_id = $1 AND r.collection = k.collection AND r.id = k.id";

/// A row of [`LOCK_AND_HELD`].
type LockedRow = (
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
);

pub(super) async fn push(
    pool: &PgPool,
    user: UserId,
    batch: &PushBatch<'_>,
) -> Result<PushResponse, DbError> {
    let keys = &batch.keys;
    let (collections, ids): (Vec<&str>, Vec<&str>) = keys
        .iter()
        .map(|k| (k.collection.as_str(), k.id.as_str()))
        .unzip();

    let mut tx = pool.begin().await?;
    let rows: Vec<LockedRow> = sqlx::query_as(LOCK_AND_HELD)
        .bind(user)
        .bind(&collections)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
    let Some(&(last_seq, seen, ..)) = rows.first() else {
        return Err(sqlx::Error::RowNotFound.into());
    };
    let held = if seen == Some(last_seq) {
        rows.into_iter()
            .filter_map(|(_, _, collection, id, hlc, has_refs)| {
                Some((collection?, id?, hlc?, has_refs.unwrap_or(true)))
            })
            .collect()
    } else {
        // Another push of the user committed after this statement's snapshot: read
        // again, now that the lock is held.
        sqlx::query_as(HELD)
            .bind(user)
            .bind(&collections)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?
    };
    let mut held = held_clocks(held)?;
    // Share-locked until the push ends, so a sweep cannot delete one meanwhile (it skips
    // locked rows; one it deleted first is not found here, and its change is refused).
    let held_blobs = if batch.blobs.is_empty() {
        std::collections::HashSet::new()
    } else {
        sqlx::query_scalar::<_, String>(
            "SELECT hash FROM blobs WHERE account = $1 AND hash = ANY($2)
             ORDER BY hash FOR SHARE",
        )
        .bind(user)
        .bind(&batch.blobs)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect()
    };
    let plan = plan_push_with_blobs(
        batch,
        std::mem::take(&mut held.clocks),
        last_seq,
        &held_blobs,
    );

    if !plan.writes.is_empty() {
        let w = &plan.writes;
        // One statement writes the versions, moves the counter and sends the
        // notification (delivered to every listening server process when, and only if,
        // this commits). The clock guard repeats the merge rule: under the row lock it
        // never filters a row, and if it ever did the push fails instead of misreporting.
        let (written, _): (i64, i64) = sqlx::query_as(
            "WITH written AS (
                 INSERT INTO records (user_id, collection, id, value, hlc, deleted, seq)
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[],
                                          $6::bool[], $7::int8[])
                 ON CONFLICT (user_id, collection, id) DO UPDATE
                    SET value = EXCLUDED.value, hlc = EXCLUDED.hlc,
                        deleted = EXCLUDED.deleted, seq = EXCLUDED.seq
                  WHERE EXCLUDED.hlc > records.hlc
                 RETURNING 1
             )
             UPDATE users SET last_seq = $8 WHERE id = $1
             RETURNING (SELECT count(*) FROM written),
                       (SELECT count(*) FROM pg_notify($9, $10))",
        )
        .bind(user)
        .bind(w.iter().map(|w| w.collection.as_str()).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.id.as_str()).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.value.as_str()).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.hlc.as_str()).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.deleted).collect::<Vec<_>>())
        .bind(w.iter().map(|w| w.seq).collect::<Vec<_>>())
        .bind(plan.last_seq)
        .bind(CHANNEL)
        .bind(format!("{user}:{}", plan.last_seq))
        .fetch_one(&mut *tx)
        .await?;
        if written != w.len() as i64 {
            return Err(DbError::Inconsistent(format!(
                "{written} of {} versions written",
                w.len()
            )));
        }
        replace_refs(&mut tx, user, batch, &plan, held.replaced_refs(&plan)).await?;
    }

    let superseded = if plan.lost.is_empty() {
        Vec::new()
    } else {
        let (collections, ids): (Vec<&str>, Vec<&str>) = plan
            .lost
            .iter()
            .map(|k| (k.collection.as_str(), k.id.as_str()))
            .unzip();
        let rows: Vec<RecordRow> = sqlx::query_as(
            "SELECT r.collection, r.id, r.value, r.hlc, r.deleted, r.seq
             FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS k (collection, id, n)
             JOIN records AS r
               ON r.user_id = $1 AND r.collection = k.collection AND r.id = k.id
             ORDER BY k.n",
        )
        .bind(user)
        .bind(&collections)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        rows.into_iter()
            .map(StoredRecord::from)
            .map(StoredRecord::into_record)
            .collect::<Result<_, _>>()?
    };
    tx.commit().await?;
    Ok(PushResponse {
        applied: plan.applied,
        duplicates: plan.duplicates,
        superseded,
        seq_before: u64::try_from(last_seq).unwrap_or(0),
        seq_after: u64::try_from(plan.last_seq).unwrap_or(0),
        refused: plan.refusals(batch),
        server: ServerClock::default(),
    })
}

/// Replaces the blob refs of the keys `plan` writes with those of their new versions,
/// clears the mark of every blob they name and marks the blobs they named before that
/// no record names any more. `replaced`: whether a version it replaces names blobs (if
/// none does, there are no old refs to delete: a push of plain records costs nothing
/// here).
async fn replace_refs(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user: UserId,
    batch: &PushBatch<'_>,
    plan: &PushPlan,
    replaced: bool,
) -> Result<(), DbError> {
    let (collections, ids): (Vec<&str>, Vec<&str>) = plan
        .writes
        .iter()
        .map(|w| (w.collection.as_str(), w.id.as_str()))
        .unzip();
    let old: Vec<String> = if !replaced {
        Vec::new()
    } else {
        sqlx::query_scalar(
            "DELETE FROM blob_refs AS r
         USING UNNEST($2::text[], $3::text[]) AS k (collection, id)
         WHERE r.account = $1 AND r.collection = k.collection AND r.record_id = k.id
         RETURNING r.hash",
        )
        .bind(user)
        .bind(&collections)
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await?
    };
    let refs = plan.refs(batch);
    if !refs.is_empty() {
        sqlx::query(
            "INSERT INTO blob_refs (account, collection, record_id, hash)
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(refs.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(refs.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(refs.iter().map(|r| r.2).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE blobs SET unreferenced_since_ms = NULL
             WHERE account = $1 AND hash = ANY($2) AND unreferenced_since_ms IS NOT NULL",
        )
        .bind(user)
        .bind(plan.named_blobs(batch))
        .execute(&mut **tx)
        .await?;
    }
    if !old.is_empty() {
        sqlx::query(
            "UPDATE blobs AS b SET unreferenced_since_ms = $3
             WHERE b.account = $1 AND b.hash = ANY($2) AND b.unreferenced_since_ms IS NULL
               AND NOT EXISTS (
                   SELECT 1 FROM blob_refs AS r WHERE r.account = $1 AND r.hash = b.hash)",
        )
        .bind(user)
        .bind(&old)
        .bind(super::now_ms_i64())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Stores a blob under the account's row lock (the one its pushes take), so uploads of
/// one account at once read each other's usage.
pub(super) async fn put_blob(pool: &PgPool, blob: &NewBlob<'_>) -> Result<PutBlob, DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(blob.user)
        .execute(&mut *tx)
        .await?;
    let held: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM blobs WHERE account = $1 AND hash = $2")
            .bind(blob.user)
            .bind(blob.hash)
            .fetch_optional(&mut *tx)
            .await?;
    if held.is_some() {
        // Unreferenced still: its grace period starts again.
        sqlx::query(
            "UPDATE blobs SET unreferenced_since_ms = $3
             WHERE account = $1 AND hash = $2 AND unreferenced_since_ms IS NOT NULL",
        )
        .bind(blob.user)
        .bind(blob.hash)
        .bind(blob.now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(PutBlob::Existing);
    }
    let used: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(size), 0)::int8 FROM blobs WHERE account = $1")
            .bind(blob.user)
            .fetch_one(&mut *tx)
            .await?;
    let used_bytes = u64::try_from(used).unwrap_or(0);
    if used_bytes.saturating_add(blob.data.len() as u64) > blob.quota_bytes {
        return Ok(PutBlob::OverQuota { used_bytes });
    }
    sqlx::query(
        "INSERT INTO blobs
             (account, hash, size, content_type, created_at_ms, unreferenced_since_ms, data)
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(blob.user)
    .bind(blob.hash)
    .bind(i64::try_from(blob.data.len()).unwrap_or(i64::MAX))
    .bind(blob.content_type)
    .bind(blob.now_ms)
    .bind(blob.data)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(PutBlob::Created)
}

pub(super) async fn blob(
    pool: &PgPool,
    user: UserId,
    hash: &str,
) -> Result<Option<BlobContent>, DbError> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT content_type, data FROM blobs WHERE account = $1 AND hash = $2")
            .bind(user)
            .bind(hash)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(content_type, data)| BlobContent { content_type, data }))
}

pub(super) async fn held_blobs(
    pool: &PgPool,
    user: UserId,
    hashes: &[String],
) -> Result<Vec<String>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT hash FROM blobs WHERE account = $1 AND hash = ANY($2)")
            .bind(user)
            .bind(hashes)
            .fetch_all(pool)
            .await?,
    )
}

pub(super) async fn blob_totals(pool: &PgPool, user: UserId) -> Result<(i64, i64), DbError> {
    Ok(sqlx::query_as(
        "SELECT count(*), coalesce(sum(size), 0)::int8 FROM blobs WHERE account = $1",
    )
    .bind(user)
    .fetch_one(pool)
    .await?)
}

/// Deletes a batch of blobs unreferenced since `unreferenced_before_ms`. Rows a push holds
/// (share-locked, being named) are skipped, and each row is checked again once locked.
pub(super) async fn sweep_blobs(
    pool: &PgPool,
    unreferenced_before_ms: i64,
    batch: i64,
) -> Result<u64, DbError> {
    let done = sqlx::query(
        "DELETE FROM blobs WHERE (account, hash) IN (
             SELECT account, hash FROM blobs AS b
             WHERE unreferenced_since_ms IS NOT NULL AND unreferenced_since_ms <= $1
               AND NOT EXISTS (
                   SELECT 1 FROM blob_refs AS r WHERE r.account = b.account AND r.hash = b.hash)
             ORDER BY account, hash
             LIMIT $2
             FOR UPDATE SKIP LOCKED)",
    )
    .bind(unreferenced_before_ms)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The user's head, the page's rows (read one at a time, up to the page's limit and byte
/// budget: [`take_page`]) and whether more remain, from one snapshot (a read-only REPEATABLE READ
/// transaction: its snapshot is taken at its first statement and never fails to
/// serialise): the head is the counter of the very state the rows come from.
pub(super) async fn pull(
    pool: &PgPool,
    user: UserId,
    since: i64,
    limit: usize,
) -> Result<(i64, Vec<StoredRecord>, bool, i64), DbError> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let rows = sqlx::query_as::<_, RecordRow>(
        "SELECT collection, id, value, hlc, deleted, seq
         FROM records
         WHERE user_id = $1 AND seq > $2
         ORDER BY seq
         LIMIT $3",
    )
    .bind(user)
    .bind(since)
    .bind(fetch_limit(limit))
    .fetch(&mut *tx);
    let (page, more) = take_page(rows, limit, PULL_PAGE_BYTES).await?;
    // The head, and what remains after the page, in the snapshot of the page's rows
    // (repeatable read: the first statement took it); nothing remains after the last page.
    let after = page
        .last()
        .filter(|_| more)
        .map_or(i64::MAX, |last| last.seq);
    let (head, remaining): (Option<i64>, i64) = sqlx::query_as(HEAD_AND_REMAINING)
        .bind(user)
        .bind(after)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((head.unwrap_or(0), page, more, remaining))
}

/// This process's listener on [`CHANNEL`], for as long as `hub` exists: publishes each
/// notification (`<user>:<cursor>`) into the hub, and after every (re)connection, once it
/// listens, has every stream read its head again ([`Hub::resync`]), since what was sent
/// while it was not listening is lost. Its connection is its own (a pool of one made
/// with the database's options), so it never holds one of the pool's, and closing the
/// pool does not wait for it. Connection failures are retried with backoff, for ever.
pub(super) async fn listen(pool: PgPool, hub: std::sync::Weak<Hub>) {
    use std::time::Duration;
    let options = pool.connect_options();
    drop(pool);
    let mut backoff = Duration::from_millis(100);
    while hub.strong_count() > 0 {
        let connected = async {
            let own = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .max_lifetime(None)
                .idle_timeout(None)
                .connect_with((*options).clone())
                .await?;
            let mut listener = sqlx::postgres::PgListener::connect_with(&own).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        match connected {
            Ok(mut listener) => {
                backoff = Duration::from_millis(100);
                tracing::debug!("listening for pushes on {CHANNEL}");
                loop {
                    // Once listening: whatever was missed before is read from the heads.
                    match hub.upgrade() {
                        Some(live) => live.resync(),
                        None => return,
                    }
                    match receive(&mut listener, &hub).await {
                        // The connection was lost and made again: resync.
                        Ok(()) => tracing::warn!("{CHANNEL} listener reconnected"),
                        Err(error) => {
                            tracing::warn!(%error, "{CHANNEL} listener lost its connection");
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot listen on {CHANNEL}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Publishes notifications into `hub` until the connection is lost (`Ok`: it was made
/// again and listens) or fails (`Err`).
async fn receive(
    listener: &mut sqlx::postgres::PgListener,
    hub: &std::sync::Weak<Hub>,
) -> Result<(), sqlx::Error> {
    while let Some(notification) = listener.try_recv().await? {
        let Some(hub) = hub.upgrade() else {
            return Ok(());
        };
        match parse_notification(notification.payload()) {
            Some((user, cursor)) => hub.publish(user, cursor),
            None => tracing::warn!(
                payload = notification.payload(),
                "unreadable {CHANNEL} notification"
            ),
        }
    }
    Ok(())
}

/// `<user>:<cursor>`.
fn parse_notification(payload: &str) -> Option<(UserId, u64)> {
    let (user, cursor) = payload.split_once(':')?;
    Some((user.parse().ok()?, cursor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn notifications_name_a_user_and_a_cursor() {
        assert_eq!(super::parse_notification("42:1007"), Some((42, 1007)));
        assert_eq!(super::parse_notification("42"), None);
        assert_eq!(super::parse_notification("x:1"), None);
        assert_eq!(super::parse_notification("1:-3"), None);
    }
}
