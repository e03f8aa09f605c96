//! The schema's migrations, and the one runner that applies them on either dialect.
//!
//! A migration is a numbered SQL file per dialect in `server/migrations/{sqlite,postgres}/`,
//! embedded in the binary ([`MIGRATIONS`]). The table `cairn_migrations` lists the applied
//! ones: version, name, and when (ms since the Unix epoch).
//!
//! [`run`] applies each pending migration, oldest first, in a transaction of its own that
//! also records it: a migration is either wholly applied and recorded or not at all, and
//! one that fails leaves the earlier ones in place. Each transaction first takes the
//! dialect's lock ([`Dialect`]) and then reads `cairn_migrations`, so servers starting
//! on one database at once apply every migration once. (Servers before this runner applied
//! all pending migrations in one transaction, into the same table: a database they
//! migrated is up to date here.)

use super::{now_ms_i64, DbError};

/// One schema change, in both dialects. Applied in order, each once, in a transaction of
/// its own.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Every migration, oldest first. Append only: a released migration never changes.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts_and_records",
        sqlite: include_str!("../../migrations/sqlite/0001_accounts_and_records.sql"),
        postgres: include_str!("../../migrations/postgres/0001_accounts_and_records.sql"),
    },
    Migration {
        version: 2,
        name: "database_epoch",
        sqlite: include_str!("../../migrations/sqlite/0002_database_epoch.sql"),
        postgres: include_str!("../../migrations/postgres/0002_database_epoch.sql"),
    },
    Migration {
        version: 3,
        name: "session_list",
        sqlite: include_str!("../../migrations/sqlite/0003_session_list.sql"),
        postgres: include_str!("../../migrations/postgres/0003_session_list.sql"),
    },
    Migration {
        version: 4,
        name: "blobs",
        sqlite: include_str!("../../migrations/sqlite/0004_blobs.sql"),
        postgres: include_str!("../../migrations/postgres/0004_blobs.sql"),
    },
];

/// What [`run`] needs to know of a dialect: its SQL for the bookkeeping, and how a
/// migration's transaction keeps other servers' runners out until it ends.
pub(super) struct Dialect {
    /// Starts a migration's transaction.
    pub begin: &'static str,
    /// Run first in the transaction, if the `begin` statement does not already take a lock
    /// that other runners wait for.
    pub lock: Option<&'static str>,
    /// Creates `cairn_migrations` if it does not exist.
    pub create_table: &'static str,
    /// Records a migration: binds its version, its name and the time in ms.
    pub record: &'static str,
    /// The migration's SQL in this dialect.
    pub sql: fn(&Migration) -> &'static str,
}

/// Applies the migrations of `migrations` that the database has not recorded, each in a
/// transaction of its own that records it too. Refuses a database recording a version
/// newer than the last of `migrations` ([`DbError::NewerSchema`]), before applying
/// anything. Returns how many were applied.
pub(super) async fn run<DB>(
    pool: &sqlx::Pool<DB>,
    dialect: &Dialect,
    migrations: &[Migration],
) -> Result<usize, DbError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    i64: sqlx::Type<DB> + for<'q> sqlx::Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB>,
    for<'q> &'q str: sqlx::Type<DB> + sqlx::Encode<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let known = migrations.last().map_or(0, |m| m.version);
    let mut applied_here = 0;
    loop {
        let mut tx = pool.begin_with(dialect.begin).await?;
        if let Some(lock) = dialect.lock {
            sqlx::raw_sql(lock).execute(&mut *tx).await?;
        }
        sqlx::raw_sql(dialect.create_table)
            .execute(&mut *tx)
            .await?;
        // Read under the lock: another server may have applied some meanwhile.
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM cairn_migrations")
            .fetch_all(&mut *tx)
            .await?;
        if let Some(&found) = applied.iter().max().filter(|&&v| v > known) {
            return Err(DbError::NewerSchema { found, known });
        }
        let Some(next) = migrations.iter().find(|m| !applied.contains(&m.version)) else {
            tx.commit().await?;
            return Ok(applied_here);
        };
        sqlx::raw_sql((dialect.sql)(next)).execute(&mut *tx).await?;
        sqlx::query(dialect.record)
            .bind(next.version)
            .bind(next.name)
            .bind(now_ms_i64())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        applied_here += 1;
    }
}
