//! The database. SQLite (embedded, WAL, a file) by default; PostgreSQL when given a
//! `postgres://` URL so several server processes can share one database.
//!
//! This module (with `sqlite` and `postgres`, one per dialect, and `migrations`) is
//! the only place that knows SQL. Handlers call the typed functions of [`Database`]; the merge decisions of a
//! push are made here in Rust by `plan_push` with `cairn_protocol::admit`, the same rule
//! every device applies, and each dialect only reads and writes rows.
//!
//! Schema changes are the numbered files in `server/migrations/{sqlite,postgres}/`,
//! embedded in the binary ([`MIGRATIONS`]) and applied at [`Database::connect`] by the
//! one runner of both dialects (`migrations`): each in a transaction of its own, which
//! also records it in the table `cairn_migrations`.
//!
//! **Blobs** (a note's images) are kept in the database too, in `blobs`, beside the
//! records that name them: one backup and one restore hold both, so a restored server
//! never has records naming files it lost. `blob_refs` lists which blobs each stored
//! record version names (its value's top-level `"blobs"`,
//! [`cairn_protocol::blobs::referenced`]); a push replaces a key's refs in the
//! transaction that stores its version, and refuses a change naming a blob the account
//! does not hold ([`BLOB_MISSING`]). A blob no record names is marked
//! (`unreferenced_since_ms`) and deleted by [`Database::sweep_blobs`] once the mark is
//! older than the grace period.
//!
//! Every database has an **epoch**: a random id stored in it the first time a server
//! opens it, and replaced by an operator after restoring a backup
//! ([`Database::renew_epoch`], `--new-epoch`). Sync replies carry it, so devices can tell
//! that the database their pull cursor belongs to is gone.

mod migrations;
mod postgres;
mod sqlite;

pub use migrations::{Migration, MIGRATIONS};

use std::collections::HashMap;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use cairn_protocol::api::{PullResponse, PushResponse, RefusedChange, ServerClock};
use cairn_protocol::{admit, Admit, Hlc, Record, RecordKey};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::events::{Hub, Subscription};

/// A user's id (the `users` primary key).
pub type UserId = i64;

/// At most this many bytes of records (their values, keys and clocks as stored) in one
/// pull page, and always at least one record: a first sync of large records comes in
/// pages of a few MiB, and a page's memory on server and device stays bounded. A page
/// cut by it says `more`, like one cut by its `limit`.
pub const PULL_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// A record row as the SQL of both dialects returns it.
pub(crate) type RecordRow = (String, String, String, String, bool, i64);

/// Expired sessions deleted per statement by [`Database::purge_expired_sessions`], so
/// that a large purge never holds SQLite's write lock for long.
pub const PURGE_BATCH: i64 = 1000;

/// The code of a pushed change refused because its value names a blob the account does
/// not hold (in [`RefusedChange::error`]): the device uploads the blob first.
pub const BLOB_MISSING: &str = "blob_missing";

/// Unreferenced blobs deleted per statement by [`Database::sweep_blobs`].
pub const SWEEP_BATCH: i64 = 100;

/// A blob to store, as [`Database::put_blob`] takes it.
#[derive(Debug, Clone)]
pub struct NewBlob<'a> {
    pub user: UserId,
    /// The SHA-256 of `data`, lowercase hex (checked by the caller).
    pub hash: &'a str,
    pub content_type: &'a str,
    pub data: &'a [u8],
    pub now_ms: i64,
    /// How many bytes of blobs the account may hold in all.
    pub quota_bytes: u64,
}

/// What [`Database::put_blob`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutBlob {
    /// Stored: the account did not hold it.
    Created,
    /// The account held it already: nothing was written but its grace period, which
    /// starts again if no record names it.
    Existing,
    /// Not stored: the account's blobs take `used_bytes` already, and this one would
    /// take it past its quota.
    OverQuota { used_bytes: u64 },
}

/// A blob as [`Database::blob`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobContent {
    pub content_type: String,
    pub data: Vec<u8>,
}

/// An account's blobs: how many, and their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlobTotals {
    pub count: u64,
    pub bytes: u64,
}

/// A new session, as [`Database::create_session`] stores it.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// SHA-256 of the token.
    pub token_hash: &'a [u8],
    pub user: UserId,
    /// A short label of the device (see [`device_label`]).
    pub device: Option<&'a str>,
    pub now_ms: i64,
    pub expires_at_ms: i64,
    /// The most sessions the user may have (0: no limit): beyond it, the user's least
    /// recently used others end.
    pub max_per_user: usize,
}

/// One of a user's sessions, as a list shows it: never its token or the token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session's public id: 128 random bits, lowercase hex.
    pub id: String,
    pub device: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    /// Whether it is the session of the token the list was asked with.
    pub current: bool,
}

/// A row of a session list as both dialects return it.
pub(crate) type SessionRow = (String, Option<String>, i64, i64, i64, bool);

impl From<SessionRow> for SessionSummary {
    fn from((id, device, created_at, last_used_at, expires_at, current): SessionRow) -> Self {
        SessionSummary {
            id,
            device,
            created_at,
            last_used_at,
            expires_at,
            current,
        }
    }
}

/// The longest device label kept, in characters.
pub const MAX_DEVICE_CHARS: usize = 160;

/// A device label from what a client sent (its `User-Agent`): control characters
/// dropped, runs of white space made one space, at most [`MAX_DEVICE_CHARS`] characters;
/// `None` if nothing is left.
pub fn device_label(raw: &str) -> Option<String> {
    let words: Vec<&str> = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect();
    let label: String = words.join(" ").chars().take(MAX_DEVICE_CHARS).collect();
    let label = label.trim_end();
    (!label.is_empty()).then(|| label.to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: expected sqlite://... or postgres://...")]
    UnsupportedUrl(String),
    #[error("the database schema is version {found}, newer than this server's {known}")]
    NewerSchema { found: i64, known: i64 },
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("the push's writes did not match what it read: {0}")]
    Inconsistent(String),
    #[error("no random numbers for a new id: {0}")]
    Random(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// How to connect: what [`Database::connect_with`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbOptions {
    /// PostgreSQL connections this process keeps at most.
    pub pool_size: u32,
    /// How long a PostgreSQL statement waits for a row lock before failing (`503`):
    /// nothing should wait that long, since one account's pushes queue in the server.
    pub lock_timeout: Duration,
    /// How long a request waits for a pool connection before failing (`503`).
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            pool_size: crate::config::DEFAULT_DB_POOL_SIZE,
            lock_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A connected database with an up-to-date schema, and its epoch.
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
    /// Read (or stored) at [`Database::connect`]; every sync reply carries it.
    epoch: Arc<str>,
    /// One account's pushes wait here, one at a time, before they take a connection: so
    /// a burst of one account's pushes waits in the server, not on pool connections
    /// held while waiting for the account's row lock, and other accounts go on.
    pushers: Arc<AccountLocks>,
    /// The change streams' fan-out in this process ([`crate::events`]): every push that
    /// stores something publishes its account's new cursor in it.
    events: Arc<Hub>,
}

/// An async mutex per account, made on first use and forgotten when nobody holds or
/// waits for it.
#[derive(Debug, Default)]
struct AccountLocks(std::sync::Mutex<HashMap<UserId, std::sync::Weak<tokio::sync::Mutex<()>>>>);

impl AccountLocks {
    async fn lock(&self, user: UserId) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if locks.len() > 1024 {
                locks.retain(|_, weak| weak.strong_count() > 0);
            }
            match locks.get(&user).and_then(std::sync::Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(user, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

/// The connections, of either backend.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(Sqlite),
    Postgres(PgPool),
}

/// A SQLite database: its connections, and the queue its writers wait in. SQLite allows
/// one writer at a time; queueing writers here (fairly, without blocking a thread) is
/// much smoother than letting each connection sleep and retry in SQLite's busy handler.
/// Other processes writing the same file still meet the busy timeout.
#[derive(Debug, Clone)]
pub struct Sqlite {
    pub pool: SqlitePool,
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl Database {
    /// Connects to `url`, creating the SQLite file if it does not exist yet, brings the
    /// schema up to date and reads the database's epoch, giving it one if it has none yet
    /// (race-free: of several servers starting at once, one stores it and all read it).
    pub async fn connect(url: &str) -> Result<Database, DbError> {
        Self::connect_with(url, &DbOptions::default()).await
    }

    /// [`Database::connect`] with these options.
    pub async fn connect_with(url: &str, options: &DbOptions) -> Result<Database, DbError> {
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let mut pool = SqlitePoolOptions::new();
            if url.contains(":memory:") || url.contains("mode=memory") {
                // Each connection to an in-memory database is a database of its own:
                // keep exactly one, for ever.
                pool = pool
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            }
            Pool::Sqlite(Sqlite {
                pool: pool.connect_with(options).await?,
                writer: Arc::new(tokio::sync::Mutex::new(())),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let lock_timeout = format!("{}ms", options.lock_timeout.as_millis().max(1));
            let pool = PgPoolOptions::new()
                .max_connections(options.pool_size.max(1))
                .acquire_timeout(options.acquire_timeout)
                .after_connect(move |conn, _| {
                    let set = format!("SET lock_timeout = '{lock_timeout}'");
                    Box::pin(async move {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(set))
                            .execute(conn)
                            .await?;
                        Ok(())
                    })
                })
                .connect(url)
                .await?;
            Pool::Postgres(pool)
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        let mut db = Database {
            pool,
            epoch: Arc::from(""),
            pushers: Arc::default(),
            events: Arc::default(),
        };
        db.migrate().await?;
        let (fresh, now) = (random_id()?, now_ms_i64());
        let epoch = match &db.pool {
            Pool::Sqlite(sqlite) => sqlite::epoch(sqlite, &fresh, now).await?,
            Pool::Postgres(pool) => postgres::epoch(pool, &fresh, now).await?,
        };
        db.epoch = Arc::from(epoch);
        Ok(db)
    }

    /// The connections.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The database's epoch: 128 random bits in lowercase hex.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Gives the database a new random epoch and returns the one it replaces. For an
    /// operator who restored a backup (`--new-epoch`): every device then starts its sync
    /// over, pushing back what the restored copy lacks. Servers already running on the
    /// same database keep answering with the epoch they read until they restart.
    pub async fn renew_epoch(&mut self) -> Result<String, DbError> {
        let (fresh, now) = (random_id()?, now_ms_i64());
        match &self.pool {
            Pool::Sqlite(db) => sqlite::set_epoch(db, &fresh, now).await?,
            Pool::Postgres(pool) => postgres::set_epoch(pool, &fresh, now).await?,
        }
        let old = std::mem::replace(&mut self.epoch, Arc::from(fresh));
        Ok(old.to_string())
    }

    /// What a sync reply says about the server: the epoch, and the time now.
    pub fn server_clock(&self) -> ServerClock {
        ServerClock {
            epoch: self.epoch.to_string(),
            server_time_ms: crate::now_ms(),
        }
    }

    /// Applies the migrations this database has not seen, each in its own transaction,
    /// which also records it: a failed migration leaves the ones before it applied. Safe
    /// to run from several processes at once; running it again changes nothing. Returns
    /// how many were applied.
    pub async fn migrate(&self) -> Result<usize, DbError> {
        match &self.pool {
            Pool::Sqlite(db) => sqlite::migrate(db, MIGRATIONS).await,
            Pool::Postgres(pool) => postgres::migrate(pool, MIGRATIONS).await,
        }
    }

    /// Which database this is, as reported by `/api/health`.
    pub fn kind(&self) -> &'static str {
        match &self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        match &self.pool {
            Pool::Sqlite(db) => sqlx::query("SELECT 1").execute(&db.pool).await.map(drop)?,
            Pool::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop)?,
        }
        Ok(())
    }

    /// The change streams' fan-out of this database in this process.
    pub fn events(&self) -> &Arc<Hub> {
        &self.events
    }

    /// Subscribes to `user`'s cursor: a push of `user` that stores something is heard,
    /// through this server or (on PostgreSQL) any other on the database. On PostgreSQL
    /// the first subscription starts this process's listener (`postgres::listen`).
    pub fn subscribe(&self, user: UserId) -> Subscription {
        if let Pool::Postgres(pool) = &self.pool {
            let (pool, hub) = (pool.clone(), Arc::downgrade(&self.events));
            self.events
                .start_listener_once(|| tokio::spawn(postgres::listen(pool, hub)));
        }
        self.events.subscribe(user)
    }

    pub async fn close(&self) {
        self.events.stop_listener();
        match &self.pool {
            Pool::Sqlite(db) => db.pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// Creates an account; `None` when the (normalised) e-mail address is taken.
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<Option<UserId>, DbError> {
        match &self.pool {
            Pool::Sqlite(db) => sqlite::create_user(db, email, password_hash, now_ms).await,
            Pool::Postgres(pool) => postgres::create_user(pool, email, password_hash, now_ms).await,
        }
    }

    /// The account with this (normalised) e-mail address: its id and password hash.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<(UserId, String)>, DbError> {
        match &self.pool {
            Pool::Sqlite(db) => sqlite::user_by_email(db, email).await,
            Pool::Postgres(pool) => postgres::user_by_email(pool, email).await,
        }
    }

    /// Stores a session (the token's hash, a new public id, last used now), deletes the
    /// user's expired ones and, beyond `max_per_user`, the user's least recently used
    /// others, in one transaction. Returns the public id and how many sessions the cap
    /// ended. (On PostgreSQL, log-ins of one user at the same moment may each keep the
    /// other's session, so the cap can be passed by those for a while.)
    pub async fn create_session(&self, session: &NewSession<'_>) -> Result<(String, u64), DbError> {
        let public_id = random_id()?;
        let ended = match &self.pool {
            Pool::Sqlite(db) => sqlite::create_session(db, session, &public_id).await?,
            Pool::Postgres(pool) => postgres::create_session(pool, session, &public_id).await?,
        };
        Ok((public_id, ended))
    }

    /// The user of an unexpired session. Its `last_used_at` becomes `now_ms` if it is
    /// `touch_if_before_ms` or earlier (compared in SQL, so only one of several requests
    /// at once writes): a session in use is written at most once per interval, not on
    /// every request.
    pub async fn session_user(
        &self,
        token_hash: &[u8],
        now_ms: i64,
        touch_if_before_ms: i64,
    ) -> Result<Option<UserId>, DbError> {
        match &self.pool {
            Pool::Sqlite(db) => {
                sqlite::session_user(db, token_hash, now_ms, touch_if_before_ms).await
            }
            Pool::Postgres(pool) => {
                postgres::session_user(pool, token_hash, now_ms, touch_if_before_ms).await
            }
        }
    }

    /// `user`'s unexpired sessions, most recently used first; `current` marks the one of
    /// `current_token_hash`.
    pub async fn list_sessions(
        &self,
        user: UserId,
        current_token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Vec<SessionSummary>, DbError> {
        let rows = match &self.pool {
            Pool::Sqlite(db) => sqlite::list_sessions(db, user, current_token_hash, now_ms).await?,
            Pool::Postgres(pool) => {
                postgres::list_sessions(pool, user, current_token_hash, now_ms).await?
            }
        };
        Ok(rows.into_iter().map(SessionSummary::from).collect())
    }

    /// Ends every session of `user` but the one of `keep_token_hash`; how many ended.
    pub async fn end_other_sessions(
        &self,
        user: UserId,
        keep_token_hash: &[u8],
    ) -> Result<u64, DbError> {
        match &self.pool {
            Pool::Sqlite(db) => sqlite::end_other_sessions(db, user, keep_token_hash).await,
            Pool::Postgres(pool) => postgres::end_other_sessions(pool, user, keep_token_hash).await,
        }
    }

    /// Ends `user`'s session with this public id; whether `user` had one.
    pub async fn end_session(&self, user: UserId, public_id: &str) -> Result<bool, DbError> {
        match &self.pool {
            Pool::Sqlite(db) => sqlite::end_session(db, user, public_id).await,
            Pool::Postgres(pool) => postgres::end_session(pool, user, public_id).await,
        }
    }

    /// Deletes every session expired at `now_ms` (of all users), [`PURGE_BATCH`] at a
    /// time; how many were deleted.
    pub async fn purge_expired_sessions(&self, now_ms: i64) -> Result<u64, DbError> {
        let mut total = 0;
        loop {
            let deleted = match &self.pool {
                Pool::Sqlite(db) => sqlite::purge_expired_sessions(db, now_ms, PURGE_BATCH).await?,
                Pool::Postgres(pool) => {
                    postgres::purge_expired_sessions(pool, now_ms, PURGE_BATCH).await?
                }
            };
            total += deleted;
            if deleted < PURGE_BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// Ends a session; whether it existed.
    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<bool, DbError> {
        match &self.pool {
            Pool::Sqlite(db) => sqlite::delete_session(db, token_hash).await,
            Pool::Postgres(pool) => postgres::delete_session(pool, token_hash).await,
        }
    }

    /// Merges `changes` (already validated) into `user`'s records, in one transaction
    /// that first takes the user's sequence counter, so one user's pushes apply one at a
    /// time and take increasing sequence numbers. The reply carries the
    /// [`Database::server_clock`]; an empty push stores nothing and answers the account's
    /// current sequence number as both `seq_before` and `seq_after`.
    /// Each change is stored only over the version it was made from, `bases[i]`
    /// ([`cairn_protocol::admit`]). A change that would be stored but names a blob the
    /// account does not hold is answered in `refused` ([`BLOB_MISSING`]) and the push
    /// goes on as if it had not been sent; each stored version's blob refs replace its
    /// key's, in the same transaction.
    pub async fn push(
        &self,
        user: UserId,
        changes: &[Record],
        bases: &[Option<Hlc>],
    ) -> Result<PushResponse, DbError> {
        let values = changes
            .iter()
            .map(|c| serde_json::to_string(&c.value))
            .collect::<Result<_, _>>()
            .map_err(|e| DbError::Corrupt(e.to_string()))?;
        self.push_encoded(user, changes, bases, values).await
    }

    /// [`Database::push`] of changes whose values are encoded already: `values[i]` is
    /// `changes[i].value` as JSON text (`serde_json::to_string`), stored as it is.
    pub async fn push_encoded(
        &self,
        user: UserId,
        changes: &[Record],
        bases: &[Option<Hlc>],
        values: Vec<String>,
    ) -> Result<PushResponse, DbError> {
        let mut reply = if changes.is_empty() {
            let seq = self.head(user).await?;
            PushResponse {
                applied: 0,
                duplicates: 0,
                superseded: Vec::new(),
                seq_before: seq,
                seq_after: seq,
                refused: Vec::new(),
                server: ServerClock::default(),
            }
        } else {
            // Encoding happens before the transaction, so it never holds a lock.
            let batch = PushBatch::encoded(changes, bases, values)?;
            let _turn = self.pushers.lock(user).await;
            let reply = match &self.pool {
                Pool::Sqlite(db) => sqlite::push(db, user, &batch).await?,
                Pool::Postgres(pool) => postgres::push(pool, user, &batch).await?,
            };
            // Committed: this process's streams hear it now (other processes' through
            // the notification the PostgreSQL transaction sent).
            if reply.seq_after > reply.seq_before {
                self.events.publish(user, reply.seq_after);
            }
            reply
        };
        reply.server = self.server_clock();
        Ok(reply)
    }

    /// Stores a blob of `blob.user` unless the account holds it already, checking the
    /// quota in the same transaction (under the account's lock, so uploads at once cannot
    /// pass it together). A blob is stored unreferenced: its grace period starts now, and
    /// a repeat upload of one no record names starts it again.
    pub async fn put_blob(&self, blob: &NewBlob<'_>) -> Result<PutBlob, DbError> {
        match &self.pool {
            Pool::Sqlite(db) => sqlite::put_blob(db, blob).await,
            Pool::Postgres(pool) => postgres::put_blob(pool, blob).await,
        }
    }

    /// `user`'s blob with this hash, if the account holds it (another account's never).
    pub async fn blob(&self, user: UserId, hash: &str) -> Result<Option<BlobContent>, DbError> {
        match &self.pool {
            Pool::Sqlite(db) => sqlite::blob(db, user, hash).await,
            Pool::Postgres(pool) => postgres::blob(pool, user, hash).await,
        }
    }

    /// Which of `hashes` the account does not hold, in the order given, each once.
    pub async fn missing_blobs(
        &self,
        user: UserId,
        hashes: &[String],
    ) -> Result<Vec<String>, DbError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let held = match &self.pool {
            Pool::Sqlite(db) => sqlite::held_blobs(db, user, hashes).await?,
            Pool::Postgres(pool) => postgres::held_blobs(pool, user, hashes).await?,
        };
        let held: std::collections::HashSet<String> = held.into_iter().collect();
        let mut seen = std::collections::HashSet::new();
        Ok(hashes
            .iter()
            .filter(|h| !held.contains(*h) && seen.insert(*h))
            .cloned()
            .collect())
    }

    /// How many blobs `user` holds, and their bytes.
    pub async fn blob_totals(&self, user: UserId) -> Result<BlobTotals, DbError> {
        let (count, bytes) = match &self.pool {
            Pool::Sqlite(db) => sqlite::blob_totals(db, user).await?,
            Pool::Postgres(pool) => postgres::blob_totals(pool, user).await?,
        };
        Ok(BlobTotals {
            count: u64::try_from(count).unwrap_or(0),
            bytes: u64::try_from(bytes).unwrap_or(0),
        })
    }

    /// Deletes every blob (of all accounts) that no stored record has named since
    /// `unreferenced_before_ms` or earlier (now minus the grace period), [`SWEEP_BATCH`]
    /// at a time; how many were deleted. A blob some record names is never deleted.
    pub async fn sweep_blobs(&self, unreferenced_before_ms: i64) -> Result<u64, DbError> {
        let mut total = 0;
        loop {
            let deleted = match &self.pool {
                Pool::Sqlite(db) => {
                    sqlite::sweep_blobs(db, unreferenced_before_ms, SWEEP_BATCH).await?
                }
                Pool::Postgres(pool) => {
                    postgres::sweep_blobs(pool, unreferenced_before_ms, SWEEP_BATCH).await?
                }
            };
            total += deleted;
            if deleted < SWEEP_BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// `user`'s sequence counter: the latest sequence number given to one of its
    /// versions (0 for an account without records).
    pub async fn head(&self, user: UserId) -> Result<u64, DbError> {
        let head = match &self.pool {
            Pool::Sqlite(db) => sqlite::head(db, user).await?,
            Pool::Postgres(pool) => postgres::head(pool, user).await?,
        };
        Ok(u64::try_from(head).unwrap_or(0))
    }

    /// `user`'s record versions with a sequence number above `since`, in sequence order,
    /// at most `limit` of them and at most [`PULL_PAGE_BYTES`] (but at least one), with
    /// the account's [`Database::head`] read from the same
    /// snapshot (so every row's number is at most the head, and the head is at least every
    /// cursor the server has handed out, unless the database lost versions), how many
    /// records remain after the page (counted in that snapshot too) and the
    /// [`Database::server_clock`].
    pub async fn pull(&self, user: UserId, since: u64, limit: usize) -> Result<PullPage, DbError> {
        let since_seq = i64::try_from(since).unwrap_or(i64::MAX);
        let (head, rows, more, remaining) = match &self.pool {
            Pool::Sqlite(db) => sqlite::pull(db, user, since_seq, limit).await?,
            Pool::Postgres(pool) => postgres::pull(pool, user, since_seq, limit).await?,
        };
        let cursor = rows
            .last()
            .map_or(since, |row| u64::try_from(row.seq).unwrap_or(0));
        let records = rows
            .into_iter()
            .map(StoredRecord::into_wire)
            .collect::<Result<_, _>>()?;
        Ok(PullPage {
            records,
            cursor,
            more,
            head: u64::try_from(head).unwrap_or(0),
            remaining: u64::try_from(remaining).unwrap_or(0),
            server: self.server_clock(),
        })
    }
}

/// The SQL limit of a page of at most `limit` records: one more, to learn whether more
/// remain.
pub(crate) fn fetch_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1
}

/// Reads a page's rows from `rows` (in sequence order, at most `limit + 1` of them), one
/// at a time, stopping at `limit` records or at the byte budget, whichever comes first,
/// and whether more remain. Rows past the page are never kept.
pub(crate) async fn take_page<S>(
    mut rows: S,
    limit: usize,
    budget: usize,
) -> Result<(Vec<StoredRecord>, bool), DbError>
where
    S: futures_util::Stream<Item = Result<RecordRow, sqlx::Error>> + Unpin,
{
    use futures_util::TryStreamExt;
    let (mut page, mut bytes) = (Vec::new(), 0usize);
    while let Some(row) = rows.try_next().await? {
        if page.len() >= limit {
            return Ok((page, true));
        }
        let size = row.0.len() + row.1.len() + row.2.len() + row.3.len();
        if !page.is_empty() && bytes + size > budget {
            return Ok((page, true));
        }
        bytes += size;
        page.push(StoredRecord::from(row));
    }
    Ok((page, false))
}

/// A new epoch or public session id: 128 random bits, lowercase hex (the random source
/// of session tokens).
fn random_id() -> Result<String, DbError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| DbError::Random(e.to_string()))?;
    Ok(bytes
        .iter()
        .fold(String::with_capacity(32), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        }))
}

fn now_ms_i64() -> i64 {
    i64::try_from(crate::now_ms()).unwrap_or(i64::MAX)
}

/// A page of pulled records. It serialises exactly as
/// [`cairn_protocol::api::PullResponse`], but each value is written out as stored (JSON
/// text, checked to be well-formed) instead of being parsed and encoded again.
#[derive(Debug, serde::Serialize)]
pub struct PullPage {
    pub records: Vec<WireRecord>,
    pub cursor: u64,
    pub more: bool,
    pub head: u64,
    pub remaining: u64,
    #[serde(flatten)]
    pub server: ServerClock,
}

/// A [`Record`] on its way out, its value still JSON text.
#[derive(Debug, serde::Serialize)]
pub struct WireRecord {
    pub collection: String,
    pub id: String,
    pub value: Box<serde_json::value::RawValue>,
    pub hlc: String,
    pub deleted: bool,
}

impl PullPage {
    /// The page as the protocol type (parses every value).
    pub fn into_response(self) -> Result<PullResponse, DbError> {
        let records = self
            .records
            .into_iter()
            .map(|r| {
                let corrupt =
                    |e: String| DbError::Corrupt(format!("record {}/{}: {e}", r.collection, r.id));
                Ok(Record {
                    value: serde_json::from_str(r.value.get())
                        .map_err(|e| corrupt(e.to_string()))?,
                    hlc: Hlc::from_str(&r.hlc).map_err(|e| corrupt(e.to_string()))?,
                    collection: r.collection,
                    id: r.id,
                    deleted: r.deleted,
                })
            })
            .collect::<Result<_, DbError>>()?;
        Ok(PullResponse {
            records,
            cursor: self.cursor,
            more: self.more,
            head: self.head,
            remaining: self.remaining,
            server: self.server,
        })
    }
}

/// A record version as stored: the value as JSON text, the clock as its string form, and
/// its sequence number. What a pull reads and what a push writes ([`PushPlan::writes`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredRecord {
    pub collection: String,
    pub id: String,
    /// The value as JSON text.
    pub value: String,
    pub hlc: String,
    pub deleted: bool,
    pub seq: i64,
}

impl From<RecordRow> for StoredRecord {
    fn from((collection, id, value, hlc, deleted, seq): RecordRow) -> Self {
        StoredRecord {
            collection,
            id,
            value,
            hlc,
            deleted,
            seq,
        }
    }
}

impl StoredRecord {
    fn into_wire(self) -> Result<WireRecord, DbError> {
        let StoredRecord {
            collection,
            id,
            value,
            hlc,
            deleted,
            ..
        } = self;
        let corrupt =
            |e: &dyn std::fmt::Display| DbError::Corrupt(format!("record {collection}/{id}: {e}"));
        Hlc::from_str(&hlc).map_err(|e| corrupt(&e))?;
        let value = serde_json::value::RawValue::from_string(value).map_err(|e| corrupt(&e))?;
        Ok(WireRecord {
            collection,
            id,
            value,
            hlc,
            deleted,
        })
    }

    fn into_record(self) -> Result<Record, DbError> {
        let hlc = Hlc::from_str(&self.hlc).map_err(|e| {
            DbError::Corrupt(format!("record {}/{}: {e}", self.collection, self.id))
        })?;
        let value = serde_json::from_str(&self.value).map_err(|e| {
            DbError::Corrupt(format!("record {}/{}: {e}", self.collection, self.id))
        })?;
        Ok(Record {
            collection: self.collection,
            id: self.id,
            value,
            hlc,
            deleted: self.deleted,
        })
    }
}

/// What a push does, decided from the clocks the server holds for the pushed keys.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct PushPlan {
    /// The versions to store, one per key, with their new sequence numbers.
    pub writes: Vec<StoredRecord>,
    /// The keys whose pushed version lost: their winners go back in the reply.
    pub lost: Vec<RecordKey>,
    pub applied: u32,
    pub duplicates: u32,
    /// The user's sequence counter after the push.
    pub last_seq: i64,
    /// For each of `writes`, the index of the change it stores (in the batch).
    pub sources: Vec<usize>,
    /// The changes refused because they name a blob the account does not hold: each
    /// change's index and the first such blob, in the order of the changes.
    pub refused: Vec<(usize, String)>,
}

impl PushPlan {
    /// The blob refs of the versions to store: `(collection, id, hash)`.
    pub fn refs<'b>(&'b self, batch: &'b PushBatch<'_>) -> Vec<(&'b str, &'b str, &'b str)> {
        self.writes
            .iter()
            .zip(&self.sources)
            .flat_map(|(write, &i)| {
                batch.refs[i]
                    .iter()
                    .map(move |hash| (write.collection.as_str(), write.id.as_str(), hash.as_str()))
            })
            .collect()
    }

    /// The distinct blobs the versions to store name.
    pub fn named_blobs(&self, batch: &PushBatch<'_>) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.sources
            .iter()
            .flat_map(|&i| &batch.refs[i])
            .filter(|hash| seen.insert(hash.as_str()))
            .cloned()
            .collect()
    }

    /// The answers to the changes refused for a missing blob.
    pub fn refusals(&self, batch: &PushBatch<'_>) -> Vec<RefusedChange> {
        self.refused
            .iter()
            .map(|(i, hash)| {
                let change = &batch.changes[*i];
                RefusedChange {
                    collection: change.collection.clone(),
                    id: change.id.clone(),
                    hlc: change.hlc.clone(),
                    error: BLOB_MISSING.to_owned(),
                    message: format!(
                        "record {}/{} names image {} which the server does not have; \
                         it is uploaded first",
                        change.collection,
                        change.id,
                        cairn_protocol::blobs::short(hash)
                    ),
                }
            })
            .collect()
    }
}

/// A push's changes, ready for the database: each value encoded as JSON text, and the
/// distinct keys in first-seen order.
pub(crate) struct PushBatch<'a> {
    pub changes: &'a [Record],
    /// The clock of the version each change was made from.
    pub bases: &'a [Option<Hlc>],
    pub values: Vec<String>,
    pub keys: Vec<RecordKey>,
    /// The blobs each change names (none for a tombstone).
    pub refs: Vec<Vec<String>>,
    /// Every blob some change names, each once.
    pub blobs: Vec<String>,
}

impl<'a> PushBatch<'a> {
    #[cfg(test)]
    pub fn new(changes: &'a [Record], bases: &'a [Option<Hlc>]) -> Result<Self, DbError> {
        let values = changes
            .iter()
            .map(|c| serde_json::to_string(&c.value))
            .collect::<Result<_, _>>()
            .map_err(|e| DbError::Corrupt(e.to_string()))?;
        Self::encoded(changes, bases, values)
    }

    /// The batch of `changes`, made from `bases`, whose values are `values` (each
    /// encoded as JSON text).
    pub fn encoded(
        changes: &'a [Record],
        bases: &'a [Option<Hlc>],
        values: Vec<String>,
    ) -> Result<Self, DbError> {
        if bases.len() != changes.len() || values.len() != changes.len() {
            return Err(DbError::Inconsistent(format!(
                "{} changes with {} bases and {} values",
                changes.len(),
                bases.len(),
                values.len()
            )));
        }
        let mut seen = std::collections::HashSet::with_capacity(changes.len());
        let keys = changes
            .iter()
            .map(Record::key)
            .filter(|k| seen.insert(k.clone()))
            .collect();
        let refs: Vec<Vec<String>> = changes
            .iter()
            .map(|c| {
                if c.deleted {
                    Vec::new()
                } else {
                    cairn_protocol::blobs::referenced(&c.value)
                }
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let blobs = refs
            .iter()
            .flatten()
            .filter(|hash| seen.insert(hash.as_str()))
            .cloned()
            .collect();
        Ok(PushBatch {
            changes,
            bases,
            values,
            keys,
            refs,
            blobs,
        })
    }
}

/// Admits each change in turn ([`admit`]), as if the changes arrived one after the other:
/// `held` has the stored clock of every pushed key the user already has. A key pushed
/// twice in one request is written once, with the later version taken; a change that is
/// not taken (stale, or older than what is held) is reported with the held version.
#[cfg(test)]
pub(crate) fn plan_push(
    batch: &PushBatch<'_>,
    held: HashMap<RecordKey, Hlc>,
    last_seq: i64,
) -> PushPlan {
    plan_excluding(batch, held, last_seq, &std::collections::HashSet::new())
}

/// [`plan_push`], where a change that would be stored but names a blob outside
/// `held_blobs` (the blobs of the batch the account holds) is refused instead, and the
/// push is planned again as if it had not been sent (so an earlier change of its key
/// in the batch may be stored instead, if it passes).
pub(crate) fn plan_push_with_blobs(
    batch: &PushBatch<'_>,
    held: HashMap<RecordKey, Hlc>,
    last_seq: i64,
    held_blobs: &std::collections::HashSet<String>,
) -> PushPlan {
    let mut excluded = std::collections::HashSet::new();
    let mut refused = Vec::new();
    loop {
        let mut plan = plan_excluding(batch, held.clone(), last_seq, &excluded);
        let lacking: Vec<(usize, String)> = plan
            .sources
            .iter()
            .filter_map(|&i| {
                let missing = batch.refs[i].iter().find(|h| !held_blobs.contains(*h))?;
                Some((i, missing.clone()))
            })
            .collect();
        if lacking.is_empty() {
            refused.sort_by_key(|(i, _)| *i);
            plan.refused = refused;
            return plan;
        }
        // Each round excludes at least one more change: this ends.
        for (i, hash) in lacking {
            excluded.insert(i);
            refused.push((i, hash));
        }
    }
}

/// Plans the push of the batch's changes but those in `excluded` (by index).
fn plan_excluding(
    batch: &PushBatch<'_>,
    mut held: HashMap<RecordKey, Hlc>,
    last_seq: i64,
    excluded: &std::collections::HashSet<usize>,
) -> PushPlan {
    let mut plan = PushPlan {
        last_seq,
        ..PushPlan::default()
    };
    // Index into `plan.writes` of the version to store for a key, if any.
    let mut written: HashMap<RecordKey, usize> = HashMap::new();
    for (n, ((change, value), base)) in batch
        .changes
        .iter()
        .zip(&batch.values)
        .zip(batch.bases)
        .enumerate()
    {
        if excluded.contains(&n) {
            continue;
        }
        let key = change.key();
        match admit(held.get(&key), &change.hlc, base.as_ref()) {
            Admit::Take => {
                plan.applied += 1;
                let write = StoredRecord {
                    collection: change.collection.clone(),
                    id: change.id.clone(),
                    value: value.clone(),
                    hlc: change.hlc.to_string(),
                    deleted: change.deleted,
                    seq: 0,
                };
                match written.get(&key) {
                    Some(&i) => {
                        plan.writes[i] = write;
                        plan.sources[i] = n;
                    }
                    None => {
                        written.insert(key.clone(), plan.writes.len());
                        plan.writes.push(write);
                        plan.sources.push(n);
                    }
                }
                held.insert(key, change.hlc.clone());
            }
            Admit::Duplicate => plan.duplicates += 1,
            Admit::Superseded | Admit::Stale => {
                if !plan.lost.contains(&key) {
                    plan.lost.push(key);
                }
            }
        }
    }
    for write in &mut plan.writes {
        plan.last_seq += 1;
        write.seq = plan.last_seq;
    }
    plan
}

/// What a push reads back for its keys: the stored clock of each key the user holds, and
/// which of those stored versions name blobs (have rows in `blob_refs`).
#[derive(Debug, Default)]
pub(crate) struct Held {
    pub clocks: HashMap<RecordKey, Hlc>,
    pub with_refs: std::collections::HashSet<RecordKey>,
}

impl Held {
    /// Whether storing `plan` replaces a version that names blobs: only then do the old
    /// refs need deleting (and their blobs marking).
    pub fn replaced_refs(&self, plan: &PushPlan) -> bool {
        !self.with_refs.is_empty()
            && plan.writes.iter().any(|w| {
                self.with_refs
                    .contains(&RecordKey::new(&w.collection, &w.id))
            })
    }
}

/// Parses the rows read back for a push's keys: `(collection, id, hlc, has_refs)`.
pub(crate) fn held_clocks(rows: Vec<(String, String, String, bool)>) -> Result<Held, DbError> {
    let mut held = Held {
        clocks: HashMap::with_capacity(rows.len()),
        with_refs: std::collections::HashSet::new(),
    };
    for (collection, id, hlc, has_refs) in rows {
        let parsed = Hlc::from_str(&hlc)
            .map_err(|e| DbError::Corrupt(format!("record {collection}/{id}: {e}")))?;
        let key = RecordKey::new(collection, id);
        if has_refs {
            held.with_refs.insert(key.clone());
        }
        held.clocks.insert(key, parsed);
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_protocol::DeviceId;
    use serde_json::json;

    /// A batch of replays (each change its own base): merged by clock alone.
    fn batch(changes: &[Record]) -> PushBatch<'_> {
        let bases = changes.iter().map(|c| Some(c.hlc.clone())).collect();
        PushBatch::new(changes, Vec::leak(bases)).unwrap()
    }

    fn rec(id: &str, wall: u64, value: i64) -> Record {
        let hlc = Hlc::new(wall, 0, DeviceId::new("d").unwrap()).unwrap();
        Record::new(RecordKey::new("notes", id), json!(value), hlc)
    }

    #[test]
    fn new_and_newer_versions_are_written_with_increasing_seqs() {
        let held = HashMap::from([(RecordKey::new("notes", "a"), rec("a", 1, 0).hlc)]);
        let plan = plan_push(&batch(&[rec("a", 2, 1), rec("b", 1, 2)]), held, 10);
        assert_eq!(plan.applied, 2);
        assert_eq!(plan.duplicates, 0);
        assert!(plan.lost.is_empty());
        assert_eq!(
            plan.writes
                .iter()
                .map(|w| (w.id.as_str(), w.seq))
                .collect::<Vec<_>>(),
            [("a", 11), ("b", 12)]
        );
        assert_eq!(plan.last_seq, 12);
        assert_eq!(plan.writes[0].value, "1");
    }

    #[test]
    fn older_versions_lose_and_equal_ones_are_duplicates() {
        let held = HashMap::from([
            (RecordKey::new("notes", "a"), rec("a", 5, 0).hlc),
            (RecordKey::new("notes", "b"), rec("b", 5, 0).hlc),
        ]);
        let plan = plan_push(&batch(&[rec("a", 4, 1), rec("b", 5, 1)]), held, 3);
        assert_eq!((plan.applied, plan.duplicates), (0, 1));
        assert_eq!(plan.lost, [RecordKey::new("notes", "a")]);
        assert!(plan.writes.is_empty());
        assert_eq!(plan.last_seq, 3);
    }

    #[test]
    fn a_pull_page_serialises_exactly_like_a_pull_response() {
        let stored = |id: &str, value: &str, deleted| StoredRecord {
            collection: "notes".into(),
            id: id.into(),
            value: value.into(),
            hlc: rec(id, 7, 0).hlc.to_string(),
            deleted,
            seq: 1,
        };
        let page = PullPage {
            records: vec![
                stored("a", r#"{"title":"hé \"quoted\"","n":[1,2.5,null]}"#, false),
                stored("b", "null", true),
            ]
            .into_iter()
            .map(StoredRecord::into_wire)
            .collect::<Result<_, _>>()
            .unwrap(),
            cursor: 9,
            more: true,
            head: 12,
            remaining: 3,
            server: ServerClock {
                epoch: random_id().unwrap(),
                server_time_ms: 1_700_000_000_123,
            },
        };
        let wire = serde_json::to_value(&page).unwrap();
        let typed = serde_json::to_value(page.into_response().unwrap()).unwrap();
        assert_eq!(wire, typed);
        // Field by field: what the client parses, with the clock flattened in.
        let fields = |v: &serde_json::Value| {
            let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(
            fields(&wire),
            [
                "cursor",
                "epoch",
                "head",
                "more",
                "records",
                "remaining",
                "server_time_ms"
            ]
        );
        assert_eq!(wire["head"], 12);
        assert_eq!(wire["remaining"], 3);
        assert_eq!(wire["server_time_ms"], 1_700_000_000_123u64);
        assert!(stored("c", "{not json", false).into_wire().is_err());
        assert!(StoredRecord {
            hlc: "yesterday".into(),
            ..stored("d", "1", false)
        }
        .into_wire()
        .is_err());
    }

    #[test]
    fn device_labels_are_one_line_and_short() {
        assert_eq!(
            device_label("  Mozilla/5.0 (X11;\tLinux)\r\n  Firefox/128.0 ").as_deref(),
            Some("Mozilla/5.0 (X11; Linux) Firefox/128.0")
        );
        assert_eq!(device_label(" \t\u{7}"), None);
        assert_eq!(device_label(""), None);
        let long = device_label(&"é".repeat(500)).unwrap();
        assert_eq!(long.chars().count(), MAX_DEVICE_CHARS);
        // Never ends in the space between two words.
        let cut = device_label(&format!("{} b", "a".repeat(MAX_DEVICE_CHARS - 1))).unwrap();
        assert_eq!(cut, "a".repeat(MAX_DEVICE_CHARS - 1));
    }

    #[test]
    fn epochs_are_128_random_bits_in_lowercase_hex() {
        let (a, b) = (random_id().unwrap(), random_id().unwrap());
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn a_key_pushed_twice_is_written_once_with_the_newer_version() {
        let plan = plan_push(
            &batch(&[rec("a", 1, 1), rec("a", 3, 3), rec("a", 2, 2)]),
            HashMap::new(),
            0,
        );
        assert_eq!((plan.applied, plan.duplicates), (2, 0));
        assert_eq!(plan.writes.len(), 1);
        assert_eq!(plan.writes[0].value, "3");
        assert_eq!(plan.writes[0].seq, 1);
        assert_eq!(plan.lost, [RecordKey::new("notes", "a")]);
    }

    fn with_blobs(id: &str, wall: u64, blobs: &[&str]) -> Record {
        let hlc = Hlc::new(wall, 0, DeviceId::new("d").unwrap()).unwrap();
        Record::new(RecordKey::new("notes", id), json!({ "blobs": blobs }), hlc)
    }

    #[test]
    fn a_change_naming_a_blob_not_held_is_refused_and_the_rest_planned_without_it() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let held_blobs = std::collections::HashSet::from([a.clone()]);
        let changes = [
            with_blobs("x", 1, &[&a]),
            with_blobs("x", 2, &[&a, &b]),
            with_blobs("y", 1, &[&b]),
            with_blobs("z", 1, &[]),
        ];
        let plan = plan_push_with_blobs(&batch(&changes), HashMap::new(), 0, &held_blobs);
        // x's later version names b: refused, and x's earlier one is stored instead.
        assert_eq!(plan.refused, [(1, b.clone()), (2, b.clone())]);
        assert_eq!(
            plan.writes
                .iter()
                .map(|w| (w.id.as_str(), w.seq))
                .collect::<Vec<_>>(),
            [("x", 1), ("z", 2)]
        );
        assert_eq!(plan.sources, [0, 3]);
        assert_eq!(plan.applied, 2);
        let pushed = batch(&changes);
        assert_eq!(plan.refs(&pushed), [("notes", "x", a.as_str())]);
        assert_eq!(plan.named_blobs(&pushed), std::slice::from_ref(&a));
        let refusals = plan.refusals(&pushed);
        assert_eq!(refusals.len(), 2);
        assert_eq!(refusals[0].error, BLOB_MISSING);
        assert_eq!(refusals[0].hlc, changes[1].hlc);
        assert!(refusals[1]
            .message
            .contains("notes/y names image bbbbbbbb…"));
        // A tombstone names nothing, and a change that loses is not checked.
        let mut gone = rec("y", 3, 0);
        gone.deleted = true;
        gone.value = serde_json::Value::Null;
        let held = HashMap::from([(RecordKey::new("notes", "x"), rec("x", 9, 0).hlc)]);
        let plan = plan_push_with_blobs(
            &batch(&[gone, with_blobs("x", 5, &[&b])]),
            held,
            0,
            &held_blobs,
        );
        assert!(plan.refused.is_empty());
        assert_eq!(plan.lost, [RecordKey::new("notes", "x")]);
        assert_eq!(plan.writes.len(), 1);
    }

    #[test]
    fn a_change_made_from_another_version_than_the_held_one_is_stale() {
        let held_a = rec("a", 5, 0).hlc;
        let held = HashMap::from([
            (RecordKey::new("notes", "a"), held_a.clone()),
            (RecordKey::new("notes", "b"), rec("b", 5, 0).hlc),
        ]);
        let changes = [rec("a", 7, 1), rec("b", 9, 1), rec("c", 1, 1)];
        let bases = [Some(held_a), Some(rec("b", 3, 0).hlc), None];
        let plan = plan_push(&PushBatch::new(&changes, &bases).unwrap(), held, 0);
        // "b" has the newer clock but was made from a version the server replaced.
        assert_eq!(plan.applied, 2);
        assert_eq!(
            plan.writes
                .iter()
                .map(|w| w.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(plan.lost, [RecordKey::new("notes", "b")]);
        assert!(PushBatch::new(&changes, &bases[..1]).is_err());
    }
}
