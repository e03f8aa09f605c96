//! SQLite's SQL. Writers are serialised by SQLite itself: every writing transaction
//! starts with `BEGIN IMMEDIATE`, taking the database's write lock at once (waiting up to
//! the busy timeout), so a read inside it never goes stale. A push sends its keys as one
//! JSON parameter that `json_each` expands, and writes its versions with bound multi-row
//! `INSERT`s of up to [`WRITE_CHUNK`] rows (no JSON to encode and parse again under the
//! write lock), so a push is a few statements whatever its size.

use cairn_protocol::api::{PushResponse, ServerClock};

use super::migrations::{self, Dialect, Migration};
use super::{
    fetch_limit, held_clocks, plan_push_with_blobs, take_page, BlobContent, DbError, NewBlob,
    NewSession, PushBatch, PushPlan, PutBlob, RecordRow, SessionRow, Sqlite, StoredRecord, UserId,
    PULL_PAGE_BYTES,
};

/// The user's counter (a first row of its own, the others' columns `NULL`) and the
/// stored clocks of a push's keys (`?2`: a JSON array of `[collection, id]`), with
/// whether each stored version names blobs, in one statement. `CROSS JOIN` makes SQLite
/// walk the keys and look each up by primary key; left to itself, without table
/// statistics, it scans the user's records instead.
const HELD_CLOCKS: &str = "
    SELECT last_seq, NULL, NULL, NULL, NULL FROM users WHERE id = ?1
    UNION ALL
    SELECT * FROM (
        WITH k (collection, id) AS (
            SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?2)
        )
        SELECT NULL, r.collection, r.id, r.hlc,
               EXISTS (SELECT 1 FROM blob_refs AS b
                       WHERE b.account = ?1 AND b.collection = r.collection
                         AND b.record_id = r.id)
        FROM k CROSS JOIN records AS r
        WHERE r.user_id = ?1 AND r.collection = k.collection AND r.id = k.id
    )";

/// A row of [`HELD_CLOCKS`].
type HeldRow = (
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
);

/// The stored versions of the keys whose pushed change lost, in the order given.
const WINNERS: &str = "
    WITH k (n, collection, id) AS (
        SELECT key, json_extract(value, '$[0]'), json_extract(value, '$[1]')
        FROM json_each(?2)
    )
    SELECT r.collection, r.id, r.value, r.hlc, r.deleted, r.seq
    FROM k CROSS JOIN records AS r
    WHERE r.user_id = ?1 AND r.collection = k.collection AND r.id = k.id
    ORDER BY k.n";

const HEAD: &str = "SELECT last_seq FROM users WHERE id = ?1";

/// Which of the blobs `?2` (a JSON array of hashes) the account `?1` holds.
const HELD_BLOBS: &str = "
    SELECT b.hash FROM json_each(?2) AS k CROSS JOIN blobs AS b
    WHERE b.account = ?1 AND b.hash = k.value";

/// The user's head and how many of their records are numbered above `?2` (an index
/// range count), in one statement: one trip to the database thread per page, not two.
const HEAD_AND_REMAINING: &str = "
    SELECT (SELECT last_seq FROM users WHERE id = ?1),
           (SELECT count(*) FROM records WHERE user_id = ?1 AND seq > ?2)";

const EPOCH: &str = "SELECT epoch FROM cairn_epoch WHERE id = 1";

const PULL: &str = "
    SELECT collection, id, value, hlc, deleted, seq
    FROM records
    WHERE user_id = ?1 AND seq > ?2
    ORDER BY seq
    LIMIT ?3";

/// How the migration runner works on SQLite: `BEGIN IMMEDIATE` takes the database's write
/// lock, which other processes' runners wait for (up to the busy timeout).
const MIGRATION_DIALECT: Dialect = Dialect {
    begin: "BEGIN IMMEDIATE",
    lock: None,
    create_table: "CREATE TABLE IF NOT EXISTS cairn_migrations (
                       version    INTEGER PRIMARY KEY,
                       name       TEXT    NOT NULL,
                       applied_at INTEGER NOT NULL
                   )",
    record: "INSERT INTO cairn_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
    sql: |m| m.sqlite,
};

/// Applies the pending `migrations` ([`migrations::run`]).
pub(super) async fn migrate(db: &Sqlite, migrations: &[Migration]) -> Result<usize, DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    migrations::run(&db.pool, &MIGRATION_DIALECT, migrations).await
}

/// The stored epoch; `fresh` is stored first if there is none.
pub(super) async fn epoch(db: &Sqlite, fresh: &str, now_ms: i64) -> Result<String, DbError> {
    if let Some(epoch) = sqlx::query_scalar(EPOCH).fetch_optional(&db.pool).await? {
        return Ok(epoch);
    }
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    // Another process may have stored one meanwhile: then that one stays.
    sqlx::query(
        "INSERT INTO cairn_epoch (id, epoch, created_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(fresh)
    .bind(now_ms)
    .execute(&db.pool)
    .await?;
    Ok(sqlx::query_scalar(EPOCH).fetch_one(&db.pool).await?)
}

/// Replaces the stored epoch.
pub(super) async fn set_epoch(db: &Sqlite, epoch: &str, now_ms: i64) -> Result<(), DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    sqlx::query(
        "INSERT INTO cairn_epoch (id, epoch, created_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, created_at = excluded.created_at",
    )
    .bind(epoch)
    .bind(now_ms)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub(super) async fn head(db: &Sqlite, user: UserId) -> Result<i64, DbError> {
    let head: Option<i64> = sqlx::query_scalar(HEAD)
        .bind(user)
        .fetch_optional(&db.pool)
        .await?;
    Ok(head.unwrap_or(0))
}

pub(super) async fn create_user(
    db: &Sqlite,
    email: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<Option<UserId>, DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    let pool = &db.pool;
    Ok(sqlx::query_scalar(
        "INSERT INTO users (email, password_hash, created_at) VALUES (?1, ?2, ?3)
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
    db: &Sqlite,
    email: &str,
) -> Result<Option<(UserId, String)>, DbError> {
    let pool = &db.pool;
    Ok(
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = ?1")
            .bind(email)
            .fetch_optional(pool)
            .await?,
    )
}

pub(super) async fn create_session(
    db: &Sqlite,
    session: &NewSession<'_>,
    public_id: &str,
) -> Result<u64, DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    let mut tx = db.pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = ?1 AND expires_at <= ?2")
        .bind(session.user)
        .bind(session.now_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions
             (token_hash, user_id, created_at, expires_at, public_id, device, last_used_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3)",
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
            "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IN (
                     SELECT token_hash FROM sessions
                     WHERE user_id = ?1 AND token_hash <> ?2
                     ORDER BY last_used_at DESC, created_at DESC
                     LIMIT -1 OFFSET ?3)",
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

pub(super) async fn session_user(
    db: &Sqlite,
    token_hash: &[u8],
    now_ms: i64,
    touch_if_before_ms: i64,
) -> Result<Option<UserId>, DbError> {
    let found: Option<(UserId, i64)> = sqlx::query_as(
        "SELECT user_id, last_used_at FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
    )
    .bind(token_hash)
    .bind(now_ms)
    .fetch_optional(&db.pool)
    .await?;
    let Some((user, last_used_at)) = found else {
        return Ok(None);
    };
    if last_used_at <= touch_if_before_ms {
        // One writer at a time, queued here rather than in SQLite's busy handler.
        let _turn = db.writer.lock().await;
        sqlx::query(
            "UPDATE sessions SET last_used_at = ?2
             WHERE token_hash = ?1 AND last_used_at <= ?3",
        )
        .bind(token_hash)
        .bind(now_ms)
        .bind(touch_if_before_ms)
        .execute(&db.pool)
        .await?;
    }
    Ok(Some(user))
}

pub(super) async fn list_sessions(
    db: &Sqlite,
    user: UserId,
    current_token_hash: &[u8],
    now_ms: i64,
) -> Result<Vec<SessionRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT public_id, device, created_at, last_used_at, expires_at, token_hash = ?2
         FROM sessions
         WHERE user_id = ?1 AND expires_at > ?3
         ORDER BY last_used_at DESC, created_at DESC, public_id",
    )
    .bind(user)
    .bind(current_token_hash)
    .bind(now_ms)
    .fetch_all(&db.pool)
    .await?)
}

pub(super) async fn end_other_sessions(
    db: &Sqlite,
    user: UserId,
    keep_token_hash: &[u8],
) -> Result<u64, DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = ?1 AND token_hash <> ?2")
        .bind(user)
        .bind(keep_token_hash)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn end_session(
    db: &Sqlite,
    user: UserId,
    public_id: &str,
) -> Result<bool, DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = ?1 AND public_id = ?2")
        .bind(user)
        .bind(public_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn purge_expired_sessions(
    db: &Sqlite,
    now_ms: i64,
    batch: i64,
) -> Result<u64, DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    let done = sqlx::query(
        "DELETE FROM sessions WHERE token_hash IN (
             SELECT token_hash FROM sessions WHERE expires_at <= ?1 LIMIT ?2)",
    )
    .bind(now_ms)
    .bind(batch)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn delete_session(db: &Sqlite, token_hash: &[u8]) -> Result<bool, DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    let pool = &db.pool;
    let done = sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn push(
    db: &Sqlite,
    user: UserId,
    batch: &PushBatch<'_>,
) -> Result<PushResponse, DbError> {
    let keys_json = serde_json::to_string(
        &batch
            .keys
            .iter()
            .map(|k| (&k.collection, &k.id))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| DbError::Corrupt(e.to_string()))?;
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    let pool = &db.pool;

    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let rows: Vec<HeldRow> = sqlx::query_as(HELD_CLOCKS)
        .bind(user)
        .bind(&keys_json)
        .fetch_all(&mut *tx)
        .await?;
    let mut last_seq = None;
    let mut held = Vec::with_capacity(rows.len());
    for row in rows {
        match row {
            (Some(seq), ..) => last_seq = Some(seq),
            (None, Some(collection), Some(id), Some(hlc), has_refs) => {
                held.push((collection, id, hlc, has_refs.unwrap_or(true)));
            }
            _ => return Err(DbError::Corrupt("a stored record without a key".into())),
        }
    }
    let last_seq = last_seq.ok_or(sqlx::Error::RowNotFound)?;
    let mut held = held_clocks(held)?;
    let held_blobs = if batch.blobs.is_empty() {
        std::collections::HashSet::new()
    } else {
        sqlx::query_scalar::<_, String>(HELD_BLOBS)
            .bind(user)
            .bind(json(&batch.blobs)?)
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
        let mut written = 0;
        for chunk in plan.writes.chunks(WRITE_CHUNK) {
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(insert_records_sql(chunk.len())));
            for w in chunk {
                insert = insert
                    .bind(user)
                    .bind(&w.collection)
                    .bind(&w.id)
                    .bind(&w.value)
                    .bind(&w.hlc)
                    .bind(w.deleted)
                    .bind(w.seq);
            }
            written += insert.execute(&mut *tx).await?.rows_affected();
        }
        if written != plan.writes.len() as u64 {
            return Err(DbError::Inconsistent(format!(
                "{written} of {} versions written",
                plan.writes.len()
            )));
        }
        sqlx::query("UPDATE users SET last_seq = ?2 WHERE id = ?1")
            .bind(user)
            .bind(plan.last_seq)
            .execute(&mut *tx)
            .await?;
        replace_refs(&mut tx, user, batch, &plan, held.replaced_refs(&plan)).await?;
    }

    let superseded = if plan.lost.is_empty() {
        Vec::new()
    } else {
        let lost_json = serde_json::to_string(
            &plan
                .lost
                .iter()
                .map(|k| (&k.collection, &k.id))
                .collect::<Vec<_>>(),
        )
        .map_err(|e| DbError::Corrupt(e.to_string()))?;
        let rows: Vec<RecordRow> = sqlx::query_as(WINNERS)
            .bind(user)
            .bind(&lost_json)
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

/// Most versions one `INSERT` of a push writes (7 parameters each): a push of up to
/// [`cairn_protocol::limits::MAX_CHANGES_PER_PUSH`] changes is a few statements, and each
/// connection caches at most this many shapes of it.
const WRITE_CHUNK: usize = 100;

/// The `INSERT` of `rows` versions, each row's 7 columns bound in order (the user
/// first). The parameters are anonymous (`?`): binding each of a numbered one (`?N`)
/// looks its name up in a list, which for hundreds of them costs more than the write.
/// The clock guard repeats the merge rule: under the write lock it never filters a row,
/// and if it ever did the push fails instead of misreporting.
fn insert_records_sql(rows: usize) -> String {
    const ROW: &str = "(?, ?, ?, ?, ?, ?, ?)";
    let mut sql = String::with_capacity(240 + rows * (ROW.len() + 2));
    sql.push_str("INSERT INTO records (user_id, collection, id, value, hlc, deleted, seq) VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str(ROW);
    }
    sql.push_str(
        " ON CONFLICT (user_id, collection, id) DO UPDATE
             SET value = excluded.value, hlc = excluded.hlc,
                 deleted = excluded.deleted, seq = excluded.seq
           WHERE excluded.hlc > records.hlc",
    );
    sql
}

/// Replaces the blob refs of the keys `plan` writes with those of their new versions,
/// clears the mark of every blob they name and marks the blobs they named before that
/// no record names any more. `replaced`: whether a version it replaces names blobs (if
/// none does, there are no old refs to delete: a push of plain records costs nothing
/// here).
async fn replace_refs(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    user: UserId,
    batch: &PushBatch<'_>,
    plan: &PushPlan,
    replaced: bool,
) -> Result<(), DbError> {
    let old: Vec<String> = if !replaced {
        Vec::new()
    } else {
        let keys: Vec<(&str, &str)> = plan
            .writes
            .iter()
            .map(|w| (w.collection.as_str(), w.id.as_str()))
            .collect();
        sqlx::query_scalar(
            "DELETE FROM blob_refs
         WHERE account = ?1 AND (collection, record_id) IN (
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?2))
         RETURNING hash",
        )
        .bind(user)
        .bind(json(&keys)?)
        .fetch_all(&mut **tx)
        .await?
    };
    let refs = plan.refs(batch);
    if !refs.is_empty() {
        sqlx::query(
            "INSERT INTO blob_refs (account, collection, record_id, hash)
             SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'),
                    json_extract(value, '$[2]')
             FROM json_each(?2) WHERE true
             ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(json(&refs)?)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE blobs SET unreferenced_since_ms = NULL
             WHERE account = ?1 AND unreferenced_since_ms IS NOT NULL
               AND hash IN (SELECT value FROM json_each(?2))",
        )
        .bind(user)
        .bind(json(&plan.named_blobs(batch))?)
        .execute(&mut **tx)
        .await?;
    }
    if !old.is_empty() {
        sqlx::query(
            "UPDATE blobs SET unreferenced_since_ms = ?3
             WHERE account = ?1 AND unreferenced_since_ms IS NULL
               AND hash IN (SELECT value FROM json_each(?2))
               AND NOT EXISTS (
                   SELECT 1 FROM blob_refs AS r WHERE r.account = ?1 AND r.hash = blobs.hash)",
        )
        .bind(user)
        .bind(json(&old)?)
        .bind(super::now_ms_i64())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A parameter as JSON text, for `json_each`.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|e| DbError::Corrupt(e.to_string()))
}

pub(super) async fn put_blob(db: &Sqlite, blob: &NewBlob<'_>) -> Result<PutBlob, DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler; and the
    // write lock `BEGIN IMMEDIATE` takes keeps the usage read below current.
    let _turn = db.writer.lock().await;
    let mut tx = db.pool.begin_with("BEGIN IMMEDIATE").await?;
    let held: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM blobs WHERE account = ?1 AND hash = ?2")
            .bind(blob.user)
            .bind(blob.hash)
            .fetch_optional(&mut *tx)
            .await?;
    if held.is_some() {
        // Unreferenced still: its grace period starts again.
        sqlx::query(
            "UPDATE blobs SET unreferenced_since_ms = ?3
             WHERE account = ?1 AND hash = ?2 AND unreferenced_since_ms IS NOT NULL",
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
        sqlx::query_scalar("SELECT coalesce(sum(size), 0) FROM blobs WHERE account = ?1")
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
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
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
    db: &Sqlite,
    user: UserId,
    hash: &str,
) -> Result<Option<BlobContent>, DbError> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT content_type, data FROM blobs WHERE account = ?1 AND hash = ?2")
            .bind(user)
            .bind(hash)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(content_type, data)| BlobContent { content_type, data }))
}

pub(super) async fn held_blobs(
    db: &Sqlite,
    user: UserId,
    hashes: &[String],
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(HELD_BLOBS)
        .bind(user)
        .bind(json(hashes)?)
        .fetch_all(&db.pool)
        .await?)
}

pub(super) async fn blob_totals(db: &Sqlite, user: UserId) -> Result<(i64, i64), DbError> {
    Ok(
        sqlx::query_as("SELECT count(*), coalesce(sum(size), 0) FROM blobs WHERE account = ?1")
            .bind(user)
            .fetch_one(&db.pool)
            .await?,
    )
}

pub(super) async fn sweep_blobs(
    db: &Sqlite,
    unreferenced_before_ms: i64,
    batch: i64,
) -> Result<u64, DbError> {
    // One writer at a time, queued here rather than in SQLite's busy handler.
    let _turn = db.writer.lock().await;
    let done = sqlx::query(
        "DELETE FROM blobs WHERE rowid IN (
             SELECT rowid FROM blobs AS b
             WHERE unreferenced_since_ms IS NOT NULL AND unreferenced_since_ms <= ?1
               AND NOT EXISTS (
                   SELECT 1 FROM blob_refs AS r WHERE r.account = b.account AND r.hash = b.hash)
             LIMIT ?2)",
    )
    .bind(unreferenced_before_ms)
    .bind(batch)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected())
}

/// The user's head, the page's rows (read one at a time, up to the page's limit and byte
/// budget: [`take_page`]) and whether more remain. One read transaction, so one snapshot (in WAL
/// mode a reader's snapshot starts at its first read): the head is the counter of the
/// very state the rows come from.
pub(super) async fn pull(
    db: &Sqlite,
    user: UserId,
    since: i64,
    limit: usize,
) -> Result<(i64, Vec<StoredRecord>, bool, i64), DbError> {
    let mut tx = db.pool.begin().await?;
    let rows = sqlx::query_as::<_, RecordRow>(PULL)
        .bind(user)
        .bind(since)
        .bind(fetch_limit(limit))
        .fetch(&mut *tx);
    let (page, more) = take_page(rows, limit, PULL_PAGE_BYTES).await?;
    // The head, and what remains after the page, in the same snapshot as the page's rows
    // (the transaction's first read took it); nothing remains after the last page.
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn plan(pool: &sqlx::SqlitePool, sql: &str) -> String {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .bind(1i64)
                .bind(r#"[["notes", "a"]]"#)
                .bind(10i64)
                .fetch_all(pool)
                .await
                .unwrap();
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
    }

    /// A push must cost the same with 10 or 100,000 records stored: every lookup by key.
    #[tokio::test]
    async fn lookups_use_the_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = crate::db::Database::connect(&url).await.unwrap();
        let crate::db::Pool::Sqlite(db) = db.pool() else {
            unreachable!()
        };
        let pool = &db.pool;
        for sql in [HELD_CLOCKS, WINNERS] {
            let plan = plan(pool, sql).await;
            assert!(
                plan.contains("SEARCH r USING INDEX sqlite_autoindex_records_1 (user_id=? AND collection=? AND id=?)"),
                "{plan}"
            );
        }
        let plan_of_blobs = plan(pool, HELD_BLOBS).await;
        assert!(
            plan_of_blobs.contains(
                "SEARCH b USING COVERING INDEX sqlite_autoindex_blobs_1 (account=? AND hash=?)"
            ),
            "{plan_of_blobs}"
        );
        let plan = plan(pool, PULL).await;
        assert!(
            plan.contains("USING INDEX records_by_seq (user_id=? AND seq>?)"),
            "{plan}"
        );
    }
}
