//! What the black-box tests share: a server on a fresh database of either backend, and
//! helpers to call its API.
//!
//! Backends: SQLite (a temp file) always; PostgreSQL when `CAIRN_TEST_POSTGRES_URL`
//! names a server where the tests may create databases (`cargo xtask test` starts a
//! throwaway cluster and sets it). Each test gets a database of its own, so tests run in
//! parallel. Without the variable the PostgreSQL variants print a notice and pass without
//! running, unless `CAIRN_REQUIRE_POSTGRES=1`, which makes them fail.

#![allow(dead_code)]

use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use cairn_protocol::api::{Change, PullResponse, PushResponse, ServerClock, Session};
use cairn_protocol::{DeviceId, Hlc, Record, RecordKey};
use cairn_server::auth::PasswordCost;
use cairn_server::config::DbOptions;
use cairn_server::db::Migration;
use cairn_server::rate_limit::RateLimit;
use cairn_server::{app, AppState, Database, Settings};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::Connection;
use tower::ServiceExt;

/// Generates, for each case `name(backend)`, the tests `sqlite::name` and
/// `postgres::name`.
#[allow(unused_macros)] // not every test file runs cases on both backends
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = super::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

pub const POSTGRES_URL_VAR: &str = "CAIRN_TEST_POSTGRES_URL";
pub const REQUIRE_POSTGRES_VAR: &str = "CAIRN_REQUIRE_POSTGRES";

/// Which database a test runs against.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The admin URL of a PostgreSQL server.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL if configured; `None` (after a notice) if not and not required.
    pub fn postgres() -> Option<Backend> {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var(REQUIRE_POSTGRES_VAR).as_deref() == Ok("1") => panic!(
                "{REQUIRE_POSTGRES_VAR}=1 but {POSTGRES_URL_VAR} is not set: \
                 run `cargo xtask test`, which starts PostgreSQL for the tests"
            ),
            _ => {
                static NOTICE: Once = Once::new();
                NOTICE.call_once(|| {
                    // Straight to stderr: the test harness captures eprintln!.
                    let _ = writeln!(
                        std::io::stderr(),
                        "NOTICE: {POSTGRES_URL_VAR} is not set: the PostgreSQL variants of \
                         the server tests pass without running. `cargo xtask test` runs them."
                    );
                });
                None
            }
        }
    }

    /// A fresh, empty database of this backend: its URL, and what keeps it alive.
    pub async fn fresh_database(&self) -> (String, Option<tempfile::TempDir>) {
        match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("cairn.db").display());
                (url, Some(dir))
            }
            Backend::Postgres(admin_url) => {
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let name = format!(
                    "cairn_test_{}_{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos()
                );
                let mut admin = sqlx::PgConnection::connect(admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin_url}: {e}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                (with_database(admin_url, &name), None)
            }
        }
    }
}

/// Connections of its own to a test database of either backend, for states the server
/// itself would not make: a schema of before, a migration that fails.
pub enum RawPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl RawPool {
    /// Connects to `url` (of [`Backend::fresh_database`]), creating a SQLite file.
    pub async fn connect(url: &str) -> RawPool {
        if url.starts_with("sqlite:") {
            let options = url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true));
            RawPool::Sqlite(pool.await.unwrap())
        } else {
            RawPool::Postgres(sqlx::PgPool::connect(url).await.unwrap())
        }
    }

    /// Runs `sql`: statements without parameters.
    pub async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()));
        match self {
            RawPool::Sqlite(pool) => sql.execute(pool).await.map(drop),
            RawPool::Postgres(pool) => sql.execute(pool).await.map(drop),
        }
    }

    /// The versions `cairn_migrations` records, in order.
    pub async fn recorded_migrations(&self) -> Vec<i64> {
        const SQL: &str = "SELECT version FROM cairn_migrations ORDER BY version";
        match self {
            RawPool::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await.unwrap(),
            RawPool::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await.unwrap(),
        }
    }

    /// Applies `migrations` to a fresh database as servers before the runner of one
    /// transaction per migration did: all of them in one transaction, recorded in the
    /// `cairn_migrations` table those servers made.
    pub async fn migrate_the_old_way(&self, migrations: &[Migration]) {
        let (integer, sql_of): (&str, fn(&Migration) -> &str) = match self {
            RawPool::Sqlite(_) => ("INTEGER", |m| m.sqlite),
            RawPool::Postgres(_) => ("BIGINT", |m| m.postgres),
        };
        let mut script = format!(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS cairn_migrations (
                 version {integer} PRIMARY KEY, name TEXT NOT NULL, applied_at {integer} NOT NULL);"
        );
        for m in migrations {
            script.push_str(sql_of(m));
            script.push_str(&format!(
                "\n;\nINSERT INTO cairn_migrations VALUES ({}, '{}', 0);\n",
                m.version, m.name
            ));
        }
        script.push_str("COMMIT;");
        self.execute(&script).await.unwrap();
    }

    pub async fn close(self) {
        match self {
            RawPool::Sqlite(pool) => pool.close().await,
            RawPool::Postgres(pool) => pool.close().await,
        }
    }
}

/// `path` with `suffix` appended to its file name (`cairn.db` → `cairn.db-wal`).
fn with_suffix(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

/// Runs one statement on the PostgreSQL server as its admin, retrying a few times while
/// a closed pool's connections are still going away.
async fn postgres_admin(admin_url: &str, sql: &str) {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    for attempt in 0.. {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut admin)
            .await
        {
            Ok(_) => break,
            Err(_) if attempt < 50 => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
    admin.close().await.unwrap();
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Settings for tests: cheap password hashing, no rate limits.
pub fn test_settings() -> Settings {
    Settings {
        user_rate: RateLimit::OFF,
        auth_rate: RateLimit::OFF,
        login_failure_rate: RateLimit::OFF,
        password_cost: PasswordCost::INSECURE_FOR_TESTS,
        ..Settings::default()
    }
}

/// A server on a fresh database.
pub struct TestApp {
    pub router: Router,
    pub db: Database,
    pub url: String,
    backend: Backend,
    settings: Settings,
    _dir: Option<tempfile::TempDir>,
    _dist: tempfile::TempDir,
}

/// A copy of a stopped server's database ([`TestApp::backup`]).
pub enum Backup {
    /// The SQLite files, in a directory of their own.
    Sqlite(tempfile::TempDir),
    /// A PostgreSQL database made from the original as a template.
    Postgres(String),
}

/// A response: status, headers, body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Reply {
    /// Asserts the status and returns the body parsed as `T`.
    #[track_caller]
    pub fn expect<T: serde::de::DeserializeOwned>(self, status: StatusCode) -> T {
        assert_eq!(self.status, status, "body: {}", self.json);
        serde_json::from_value(self.json).unwrap()
    }

    /// Asserts an error reply with this status and code; returns its message.
    #[track_caller]
    pub fn expect_error(self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.json);
        assert_eq!(self.json["error"], code, "body: {}", self.json);
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/json",
            "errors are JSON"
        );
        self.json["message"].as_str().expect("a message").to_owned()
    }
}

impl TestApp {
    pub async fn new(backend: &Backend) -> TestApp {
        Self::with_settings(backend, test_settings()).await
    }

    pub async fn with_settings(backend: &Backend, settings: Settings) -> TestApp {
        Self::with_options(backend, settings, DbOptions::default()).await
    }

    /// A server whose database connection has these options.
    pub async fn with_options(
        backend: &Backend,
        settings: Settings,
        options: DbOptions,
    ) -> TestApp {
        let (url, dir) = backend.fresh_database().await;
        let db = Database::connect_with(&url, &options).await.unwrap();
        let dist = tempfile::tempdir().unwrap();
        let router = app(AppState::new(
            db.clone(),
            dist.path().to_owned(),
            settings.clone(),
        ));
        TestApp {
            router,
            db,
            url,
            backend: backend.clone(),
            settings,
            _dir: dir,
            _dist: dist,
        }
    }

    /// Another server process on the same database (PostgreSQL; for SQLite, another
    /// connection pool on the same file): its own pool, limits and queues.
    pub async fn second_instance(&self) -> TestApp {
        let db = Database::connect(&self.url).await.unwrap();
        let dist = tempfile::tempdir().unwrap();
        let router = app(AppState::new(
            db.clone(),
            dist.path().to_owned(),
            self.settings.clone(),
        ));
        TestApp {
            router,
            db,
            url: self.url.clone(),
            backend: self.backend.clone(),
            settings: self.settings.clone(),
            _dir: None,
            _dist: dist,
        }
    }

    /// Stops the server: closes its connections to the database.
    pub async fn stop(&self) {
        self.db.close().await;
    }

    /// Starts the server again on the same database (after [`TestApp::stop`]), as a new
    /// process would: connecting, migrating, reading the epoch.
    pub async fn start(&mut self) {
        self.db = Database::connect(&self.url).await.unwrap();
        self.router = app(AppState::new(
            self.db.clone(),
            self._dist.path().to_owned(),
            self.settings.clone(),
        ));
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// The SQLite database file (for a SQLite backend).
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        self._dir.as_ref().map(|dir| dir.path().join("cairn.db"))
    }

    /// A copy of the database as it is now; the server must be stopped.
    pub async fn backup(&self) -> Backup {
        match &self.backend {
            Backend::Sqlite => {
                let file = self.sqlite_file().unwrap();
                let copy = tempfile::tempdir().unwrap();
                for suffix in ["", "-wal"] {
                    let from = with_suffix(&file, suffix);
                    if from.exists() {
                        std::fs::copy(&from, with_suffix(&copy.path().join("cairn.db"), suffix))
                            .unwrap();
                    }
                }
                Backup::Sqlite(copy)
            }
            Backend::Postgres(admin_url) => {
                let name = self.postgres_name();
                let copy = format!("{name}_backup");
                postgres_admin(
                    admin_url,
                    &format!("CREATE DATABASE {copy} TEMPLATE {name}"),
                )
                .await;
                Backup::Postgres(copy)
            }
        }
    }

    /// Puts a [`TestApp::backup`] back in place of the database; the server must be
    /// stopped.
    pub async fn restore(&self, backup: Backup) {
        match (&self.backend, backup) {
            (Backend::Sqlite, Backup::Sqlite(copy)) => {
                let file = self.sqlite_file().unwrap();
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(with_suffix(&file, suffix));
                    let from = with_suffix(&copy.path().join("cairn.db"), suffix);
                    if from.exists() {
                        std::fs::copy(&from, with_suffix(&file, suffix)).unwrap();
                    }
                }
            }
            (Backend::Postgres(admin_url), Backup::Postgres(copy)) => {
                let name = self.postgres_name();
                postgres_admin(admin_url, &format!("DROP DATABASE {name}")).await;
                postgres_admin(
                    admin_url,
                    &format!("ALTER DATABASE {copy} RENAME TO {name}"),
                )
                .await;
            }
            _ => unreachable!("a backup of another backend"),
        }
    }

    fn postgres_name(&self) -> String {
        let path = self.url.split('?').next().unwrap();
        path.rsplit('/').next().unwrap().to_owned()
    }

    /// Asserts that a reply's server clock is this server's: its database's epoch, and
    /// a time between `before` and now.
    #[track_caller]
    pub fn assert_clock(&self, clock: &ServerClock, before: u64) {
        assert_eq!(clock.epoch, self.db.epoch(), "the database's epoch");
        assert!(
            (before..=now()).contains(&clock.server_time_ms),
            "server time {} not between {before} and now",
            clock.server_time_ms
        );
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(request).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status,
            headers,
            json,
        }
    }

    /// A request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(json).unwrap())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    pub async fn register_reply(&self, email: &str, password: &str) -> Reply {
        let body = json!({"email": email, "password": password});
        self.call(Method::POST, "/api/v1/accounts", None, Some(&body))
            .await
    }

    pub async fn log_in_reply(&self, email: &str, password: &str) -> Reply {
        let body = json!({"email": email, "password": password});
        self.call(Method::POST, "/api/v1/sessions", None, Some(&body))
            .await
    }

    /// Registers an account; its token.
    pub async fn register(&self, email: &str) -> String {
        let session: Session = self
            .register_reply(email, PASSWORD)
            .await
            .expect(StatusCode::CREATED);
        session.token
    }

    pub async fn push_reply(&self, token: &str, changes: &[Record]) -> Reply {
        let body = json!({"protocol": 2, "device_id": "dev1", "changes": replays(changes)});
        self.call(Method::POST, "/api/v1/sync/push", Some(token), Some(&body))
            .await
    }

    /// A push with `"partial": true`.
    pub async fn push_partial_reply(&self, token: &str, changes: &[Record]) -> Reply {
        let body = json!({"protocol": 2, "device_id": "dev1", "changes": replays(changes), "partial": true});
        self.call(Method::POST, "/api/v1/sync/push", Some(token), Some(&body))
            .await
    }

    /// A push of `changes`, each made from the version with its clock `base`.
    pub async fn push_based_reply(&self, token: &str, changes: &[(Record, Option<Hlc>)]) -> Reply {
        let changes: Vec<Change> = changes
            .iter()
            .map(|(record, base)| Change::new(record.clone(), base.clone()))
            .collect();
        let body = json!({"protocol": 2, "device_id": "dev1", "changes": changes, "partial": true});
        self.call(Method::POST, "/api/v1/sync/push", Some(token), Some(&body))
            .await
    }

    /// A push that succeeds, its reply stamped with this server's clock.
    pub async fn push(&self, token: &str, changes: &[Record]) -> PushResponse {
        let before = now();
        let reply: PushResponse = self.push_reply(token, changes).await.expect(StatusCode::OK);
        self.assert_clock(&reply.server, before);
        assert!(reply.refused.is_empty(), "refused: {:?}", reply.refused);
        reply
    }

    /// A partial push that succeeds, its reply stamped with this server's clock.
    pub async fn push_partial(&self, token: &str, changes: &[Record]) -> PushResponse {
        let before = now();
        let reply: PushResponse = self
            .push_partial_reply(token, changes)
            .await
            .expect(StatusCode::OK);
        self.assert_clock(&reply.server, before);
        reply
    }

    pub async fn pull_reply(&self, token: &str, query: &str) -> Reply {
        self.call(
            Method::GET,
            &format!("/api/v1/sync/pull{query}"),
            Some(token),
            None,
        )
        .await
    }

    /// A pull that succeeds, its page stamped with this server's clock.
    pub async fn pull(&self, token: &str, since: u64, limit: usize) -> PullResponse {
        let before = now();
        let page: PullResponse = self
            .pull_reply(token, &format!("?since={since}&limit={limit}"))
            .await
            .expect(StatusCode::OK);
        self.assert_clock(&page.server, before);
        page
    }

    /// Every record of the account, pulling page by page.
    pub async fn pull_all(&self, token: &str) -> Vec<Record> {
        let (mut since, mut all) = (0, Vec::new());
        loop {
            let page = self.pull(token, since, 1000).await;
            all.extend(page.records);
            since = page.cursor;
            if !page.more {
                return all;
            }
        }
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// Now, in ms since the epoch.
pub fn now() -> u64 {
    cairn_server::now_ms()
}

/// A clock value `offset_ms` after `base`.
pub fn hlc(wall_ms: u64, device: &str) -> Hlc {
    Hlc::new(wall_ms, 0, DeviceId::new(device).unwrap()).unwrap()
}

/// A record in `notes` written at `wall_ms` by `device`.
pub fn note(id: &str, value: Value, wall_ms: u64, device: &str) -> Record {
    Record::new(RecordKey::new("notes", id), value, hlc(wall_ms, device))
}

/// `records` as changes that re-send each version as it is (each its own base): merged by
/// clock alone, as the tests written for the clock rule expect.
pub fn replays(records: &[Record]) -> Vec<Change> {
    records.iter().map(|r| Change::replay(r.clone())).collect()
}
