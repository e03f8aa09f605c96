//! The Cairn sync server: serves the built app and the JSON API from one origin.
//!
//! # Layout
//! - [`config`]: command-line flags and environment variables; [`Settings`].
//! - [`db`]: the database (SQLite by default, PostgreSQL by URL) and its migrations; the
//!   only module that knows SQL dialects. Handlers call its typed functions.
//! - [`error`]: [`ApiError`], the one error type API handlers return, mapped to JSON
//!   responses that never leak internals; the JSON and query extractors that map their
//!   rejections into it.
//! - [`auth`]: Argon2id passwords, session tokens, the [`auth::AuthUser`] extractor.
//! - [`rate_limit`]: token buckets per account and per client address.
//! - [`api`]: the `/api` routes and their generated OpenAPI description.
//! - [`events`]: live changes, `GET /api/v1/sync/events` (server-sent events), and their
//!   fan-out (in-process, and across processes by PostgreSQL's `LISTEN`/`NOTIFY`).
//! - [`static_files`]: the built app, with the cache policy the service worker relies on,
//!   each file as its precompressed brotli or gzip copy where the browser takes one.
//! - [`security_headers`]: the headers every response gets (the app's content security
//!   policy, with the hashes of `index.html`'s inline scripts; `nosniff`; no framing).
//!
//! [`app`] builds the whole router from an [`AppState`]; tests drive it with
//! `tower::ServiceExt::oneshot` without opening a socket. [`serve`] runs it on a
//! listener until a shutdown signal, finishing the requests in flight (and ending the
//! change streams), and purges expired sessions and unreferenced blobs on a timer
//! meanwhile.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod rate_limit;
pub mod security_headers;
pub mod static_files;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::{Request, Response};
use axum::Router;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use config::{Config, Settings};
pub use db::Database;
pub use error::ApiError;
use rate_limit::{InFlight, Limiters, RateLimiter};

/// Blob uploads read and stored at once, over all accounts; more wait their turn before
/// reading their body. Each holds its whole body (up to `--max-blob-mb`) in memory, so
/// this bounds what uploads take: 16 × 10 MiB by default.
pub const MAX_CONCURRENT_BLOB_UPLOADS: usize = 16;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    /// The directory of the built app (trunk's `dist/`).
    pub static_dir: PathBuf,
    pub settings: Arc<Settings>,
    pub(crate) limits: Arc<Limiters>,
    /// Verified against on log-in with an unknown address (made on first use).
    pub(crate) dummy_hash: Arc<OnceLock<String>>,
    /// The app's content security policy, for the `index.html` being served.
    pub(crate) app_policy: Arc<security_headers::AppPolicy>,
    /// API requests being answered (`None`: no limit).
    pub(crate) in_flight: Option<Arc<tokio::sync::Semaphore>>,
    /// Turns to compute an Argon2 hash (`--max-concurrent-hashes`).
    pub(crate) hashes: Arc<tokio::sync::Semaphore>,
    /// Turns to read and store a blob's upload ([`MAX_CONCURRENT_BLOB_UPLOADS`]).
    pub(crate) blob_uploads: Arc<tokio::sync::Semaphore>,
    /// Argon2 hashes being computed, counted where they run.
    pub(crate) hashing: Arc<auth::HashGauge>,
    /// The change streams' limits and the signal that ends them.
    pub(crate) streams: Arc<events::Streams>,
}

impl AppState {
    pub fn new(db: Database, static_dir: PathBuf, settings: Settings) -> AppState {
        let limits = Limiters {
            users: RateLimiter::new(settings.user_rate),
            addresses: RateLimiter::new(settings.auth_rate),
            login_failures: RateLimiter::new(settings.login_failure_rate),
            in_flight_per_account: InFlight::new(settings.max_in_flight_per_account),
        };
        let in_flight = (settings.max_in_flight > 0)
            .then(|| Arc::new(tokio::sync::Semaphore::new(settings.max_in_flight)));
        let hashes = Arc::new(tokio::sync::Semaphore::new(
            settings.max_concurrent_hashes.max(1),
        ));
        let app_policy = Arc::new(security_headers::AppPolicy::new(
            static_dir.join("index.html"),
        ));
        AppState {
            streams: Arc::new(events::Streams::new(&settings)),
            db,
            static_dir,
            app_policy,
            in_flight,
            hashes,
            hashing: Arc::default(),
            blob_uploads: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_BLOB_UPLOADS)),
            settings: Arc::new(settings),
            limits: Arc::new(limits),
            dummy_hash: Arc::new(OnceLock::new()),
        }
    }

    /// The Argon2 hashes computed for requests: the most at once, and how many.
    pub fn hashing(&self) -> &auth::HashGauge {
        &self.hashing
    }

    /// Ends every change stream this state serves, now and from now on (new ones get
    /// `503 server_busy`): [`serve`] does it when shutdown is signalled, so that streams
    /// do not hold the graceful shutdown up for ever.
    pub fn end_event_streams(&self) {
        self.streams.end_all();
    }

    /// Work worth doing before the first request: the dummy password hash that log-ins
    /// with an unknown address are checked against (so the first such log-in takes as
    /// long as any other).
    pub async fn prepare(&self) -> Result<(), ApiError> {
        auth::prepare_dummy_hash(self.settings.password_cost, self.dummy_hash.clone()).await
    }
}

/// The whole server: `/api/...` plus the built app for every other path.
///
/// API requests are logged in a span `request{method, path, user_id}` with one event
/// per response (status, latency); request bodies are limited to
/// [`cairn_protocol::limits::MAX_PUSH_BYTES`] (but a blob's upload, which reads its body
/// itself, up to [`Settings::max_blob_bytes`]); JSON responses are compressed as
/// [`api_compression`] says. Every response gets the [`security_headers`].
pub fn app(state: AppState) -> Router {
    let static_dir = state.static_dir.clone();
    let app_policy = state.app_policy.clone();
    let in_flight = state.in_flight.clone();
    let api = api::router()
        .layer(DefaultBodyLimit::max(
            cairn_protocol::limits::MAX_PUSH_BYTES,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<Body>| {
                    // The full path: this router is nested, its requests' URIs are not.
                    let path = req
                        .extensions()
                        .get::<OriginalUri>()
                        .map_or(req.uri().path(), |uri| uri.path());
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path,
                        user_id = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(|res: &Response<Body>, latency: Duration, _: &Span| {
                    let status = res.status().as_u16();
                    let latency_ms = latency.as_secs_f64() * 1000.0;
                    if res.status().is_server_error() {
                        tracing::error!(status, latency_ms, "response");
                    } else {
                        tracing::info!(status, latency_ms, "response");
                    }
                })
                .on_failure(()),
        )
        .layer(axum::middleware::from_fn_with_state(
            in_flight,
            limit_in_flight,
        ))
        .layer(api_compression());
    Router::new()
        .nest(api::PREFIX, api)
        .with_state(state)
        .fallback_service(static_files::service(&static_dir))
        .layer(axum::middleware::from_fn_with_state(
            app_policy,
            security_headers::add,
        ))
}

/// API responses smaller than this are sent as they are: compressing them saves less
/// than a packet.
pub const API_COMPRESSION_MIN_BYTES: u64 = 1024;

/// Put in a response's extensions, keeps [`api_compression`] from compressing it,
/// whatever its type: a blob's bytes (images are compressed already, and a blob stored
/// as `application/json` is still a file, served as it was uploaded).
#[derive(Debug, Clone, Copy)]
pub struct Uncompressed;

/// Brotli or gzip (by `Accept-Encoding`, at their fast default levels) for API responses
/// of at least [`API_COMPRESSION_MIN_BYTES`] whose body is one JSON document
/// (`application/json`): the pull pages and the OpenAPI description. Nothing else is
/// compressed (nor a response marked [`Uncompressed`]), so a streaming response (server-sent events, NDJSON), whose chunks a
/// compressor would hold back, never is. (Compressing responses next to secrets is not
/// a BREACH oracle here: requests authenticate with a bearer header, not a cookie, so
/// another site cannot make a signed-in request and watch its size.)
pub fn api_compression() -> CompressionLayer<impl Predicate> {
    let is_json = |_: axum::http::StatusCode,
                   _: axum::http::Version,
                   headers: &axum::http::HeaderMap,
                   extensions: &axum::http::Extensions| {
        extensions.get::<Uncompressed>().is_none()
            && headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
    };
    CompressionLayer::new()
        .no_deflate()
        .no_zstd()
        .compress_when(SizeAbove::new(API_COMPRESSION_MIN_BYTES).and(is_json))
}

/// At most `--max-in-flight` API requests answered at once; more are `503 server_busy`
/// with `Retry-After`, rather than queueing without bound.
async fn limit_in_flight(
    axum::extract::State(in_flight): axum::extract::State<Option<Arc<tokio::sync::Semaphore>>>,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response<Body> {
    use axum::response::IntoResponse;
    let _permit = match &in_flight {
        None => None,
        Some(semaphore) => match semaphore.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => return ApiError::Busy.into_response(),
        },
    };
    next.run(req).await
}

/// Serves [`app`] on `listener` until `shutdown` resolves; then stops accepting
/// connections, ends the change streams, lets the requests in flight finish, and
/// returns. Meanwhile expired sessions and unreferenced blobs past their grace period are
/// purged every [`Settings::session_purge_interval`] ([`purge_expired`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purge = AbortOnDrop(tokio::spawn(purge_expired(
        state.db.clone(),
        state.settings.session_purge_interval,
        state.settings.blob_grace,
    )));
    let streams = state.streams.clone();
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        streams.end_all();
    })
    .await;
    drop(purge);
    served
}

/// Deletes expired sessions, and blobs no stored record has named for longer than
/// `blob_grace` ([`sweep_blobs`]), at once and then every `interval`, for ever (a zero
/// interval: never). A failure is logged and the next round tries again.
pub async fn purge_expired(db: Database, interval: Duration, blob_grace: Duration) {
    if interval.is_zero() {
        return;
    }
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        match db.purge_expired_sessions(now).await {
            Ok(deleted) => tracing::debug!(deleted, "expired sessions purged"),
            Err(error) => tracing::warn!(%error, "cannot purge expired sessions"),
        }
        match sweep_blobs(&db, blob_grace).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "unreferenced blobs deleted"),
            Err(error) => tracing::warn!(%error, "cannot delete unreferenced blobs"),
        }
    }
}

/// Deletes the blobs (of every account) that no stored record has named for longer than
/// `grace`; how many were deleted. [`serve`] runs it on its purge timer.
pub async fn sweep_blobs(db: &Database, grace: Duration) -> Result<u64, db::DbError> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    db.sweep_blobs(now.saturating_sub(grace_ms)).await
}

/// Stops a background task when dropped (also when the future holding it is).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
