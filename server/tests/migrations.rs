//! The schema's migrations, against SQLite and PostgreSQL: a database that servers of
//! before migrated, and what a migration that fails leaves behind.

#[macro_use]
mod support;

use cairn_server::db::MIGRATIONS;
use cairn_server::Database;
use support::{Backend, RawPool};

on_both_backends!(
    a_database_the_old_runner_migrated_is_up_to_date,
    a_failing_migration_leaves_the_ones_before_it_applied,
);

fn every_version() -> Vec<i64> {
    MIGRATIONS.iter().map(|m| m.version).collect()
}

async fn a_database_the_old_runner_migrated_is_up_to_date(backend: Backend) {
    let (url, _dir) = backend.fresh_database().await;
    let raw = RawPool::connect(&url).await;
    raw.migrate_the_old_way(MIGRATIONS).await;
    raw.close().await;

    let db = Database::connect(&url).await.unwrap();
    assert_eq!(db.migrate().await.unwrap(), 0, "nothing left to apply");
    let user = db.create_user("alice@example.org", "x", 1).await.unwrap();
    assert!(user.is_some());
    db.close().await;
    let raw = RawPool::connect(&url).await;
    assert_eq!(raw.recorded_migrations().await, every_version());
    raw.close().await;
}

async fn a_failing_migration_leaves_the_ones_before_it_applied(backend: Backend) {
    let (url, _dir) = backend.fresh_database().await;
    let raw = RawPool::connect(&url).await;
    raw.migrate_the_old_way(&MIGRATIONS[..1]).await;
    // In the way of migration 3's last statement: an index of the name it creates.
    raw.execute("CREATE INDEX sessions_by_expiry ON sessions (expires_at)")
        .await
        .unwrap();
    raw.close().await;

    let error = Database::connect(&url).await.unwrap_err();
    assert!(error.to_string().contains("sessions_by_expiry"), "{error}");
    let raw = RawPool::connect(&url).await;
    // Migration 2 stays applied and recorded; of migration 3 nothing is left, not even
    // the statements before the one that failed.
    assert_eq!(raw.recorded_migrations().await, [1, 2]);
    raw.execute("SELECT count(*) FROM cairn_epoch")
        .await
        .unwrap();
    assert!(raw.execute("SELECT public_id FROM sessions").await.is_err());

    // Once the obstacle is gone, the next start applies the rest.
    raw.execute("DROP INDEX sessions_by_expiry").await.unwrap();
    raw.close().await;
    let db = Database::connect(&url).await.unwrap();
    db.close().await;
    let raw = RawPool::connect(&url).await;
    assert_eq!(raw.recorded_migrations().await, every_version());
    raw.execute("SELECT public_id FROM sessions").await.unwrap();
    raw.close().await;
}
