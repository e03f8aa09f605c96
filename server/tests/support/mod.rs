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
use cairn_protocol::api::{PullResponse, PushResponse, Session};
use cairn_protocol::{DeviceId, Hlc, Record, RecordKey};
use cairn_server::auth::PasswordCost;
use cairn_server::rate_limit::RateLimit;
use cairn_server::{app, AppState, Database, Settings};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::Connection;
use tower::ServiceExt;

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
        password_cost: PasswordCost::INSECURE_FOR_TESTS,
        ..Settings::default()
    }
}

/// A server on a fresh database.
pub struct TestApp {
    pub router: Router,
    pub db: Database,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _dist: tempfile::TempDir,
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
        let (url, dir) = backend.fresh_database().await;
        let db = Database::connect(&url).await.unwrap();
        let dist = tempfile::tempdir().unwrap();
        let router = app(AppState::new(db.clone(), dist.path().to_owned(), settings));
        TestApp {
            router,
            db,
            url,
            _dir: dir,
            _dist: dist,
        }
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
        let body = json!({"device_id": "dev1", "changes": changes});
        self.call(Method::POST, "/api/v1/sync/push", Some(token), Some(&body))
            .await
    }

    pub async fn push(&self, token: &str, changes: &[Record]) -> PushResponse {
        self.push_reply(token, changes).await.expect(StatusCode::OK)
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

    pub async fn pull(&self, token: &str, since: u64, limit: usize) -> PullResponse {
        self.pull_reply(token, &format!("?since={since}&limit={limit}"))
            .await
            .expect(StatusCode::OK)
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
