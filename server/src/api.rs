//! The `/api` routes, each registered together with its OpenAPI description
//! (`utoipa_axum::routes!`), so the description served at `/api/v1/openapi.json` lists
//! exactly the routes there are. The protocol is described in `docs/sync-protocol.md`.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::{Json, Router};
use cairn_protocol::api::{
    BlobUsage, Change, Credentials, CursorEvent, EndedSessions, ErrorBody, MissingBlobs,
    MissingBlobsRequest, PullQuery, PullResponse, PushRequest, PushResponse, RefusedChange,
    ServerClock, Session, SessionInfo, StoredBlob, PUSH_PROTOCOL,
};
use cairn_protocol::blobs::{is_hash, MAX_MISSING_QUERY};
use cairn_protocol::limits::{
    check_credentials, check_record_facts, normalize_email, pull_limit, RecordFacts,
    MAX_CHANGES_PER_PUSH,
};
use cairn_protocol::{Hlc, LimitError, Record};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, AuthUser};
use crate::db::{device_label, DbError, NewBlob, NewSession, PullPage, PutBlob, SessionSummary};
use crate::error::{ApiJson, ApiPath, ApiQuery};
use crate::rate_limit::AddressRateLimited;
use crate::{now_ms, ApiError, AppState};

/// Where [`router`] is mounted; the OpenAPI paths include it.
pub const PREFIX: &str = "/api";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn sync API",
        description = "Accounts, sessions and record sync for Cairn. See docs/sync-protocol.md. \
            Every error is an `ErrorBody`. On every path: an unknown path under `/api` is \
            `404 not_found`; a method a path does not take is `405 method_not_allowed`, with \
            `Allow` listing the methods it takes; any request may be `503 server_busy` \
            (with `Retry-After`) when the server answers as many as it takes at once.",
    ),
    components(schemas(Change, CursorEvent, ErrorBody, RefusedChange, ServerClock)),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Registration, log-in and log-out"),
        (name = "sessions", description = "The account's sessions: listing and ending them"),
        (name = "sync", description = "Pushing and pulling records"),
        (name = "blobs", description = "The files records name (a note's images), by SHA-256"),
        (name = "meta", description = "Health and this description"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(openapi_json))
        .routes(routes!(register))
        .routes(routes!(log_in, list_sessions))
        .routes(routes!(log_out))
        .routes(routes!(end_other_sessions))
        .routes(routes!(end_session))
        .routes(routes!(push))
        .routes(routes!(pull))
        .routes(routes!(events))
        .routes(routes!(put_blob, get_blob))
        .routes(routes!(missing_blobs))
        .routes(routes!(blob_usage))
}

/// The `/api` router (to be nested at [`PREFIX`]). An unknown path is `404 not_found`; a
/// known path with a method it does not take is `405 method_not_allowed`, with axum's
/// `Allow` header listing the methods it does take.
pub fn router() -> Router<AppState> {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
}

/// The OpenAPI description of every route, with paths as served (under [`PREFIX`]).
pub fn openapi() -> OpenApiDoc {
    let (_, mut doc) = routes().split_for_parts();
    doc.paths.paths = std::mem::take(&mut doc.paths.paths)
        .into_iter()
        .map(|(path, item)| (format!("{PREFIX}{path}"), item))
        .collect();
    doc
}

#[derive(Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Health {
    pub status: String,
    /// The server's version (the workspace version).
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// The server is up and its database answers.
#[utoipa::path(
    get, path = "/health", tag = "meta",
    responses(
        (status = 200, description = "Up", body = Health),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.db.ping().await.map_err(ApiError::Database)?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: state.db.kind().into(),
    }))
}

/// This OpenAPI description.
#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 description", content_type = "application/json"))
)]
async fn openapi_json() -> Json<&'static OpenApiDoc> {
    static DOC: OnceLock<OpenApiDoc> = OnceLock::new();
    Json(DOC.get_or_init(openapi))
}

/// Creates an account and signs it in.
#[utoipa::path(
    post, path = "/v1/accounts", tag = "accounts",
    request_body = Credentials,
    responses(
        (status = 201, description = "Account created and signed in", body = Session),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 422, description = "`invalid_credentials_format`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (per client address); see `Retry-After`", body = ErrorBody),
    )
)]
async fn register(
    State(state): State<AppState>,
    _: AddressRateLimited,
    headers: HeaderMap,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let email = normalize_email(&credentials.email);
    check_credentials(&email, &credentials.password).map_err(ApiError::InvalidCredentialsFormat)?;
    let hash = {
        let _turn = hash_turn(&state).await?;
        auth::hash_password(
            state.settings.password_cost,
            state.hashing.clone(),
            credentials.password,
        )
        .await?
    };
    let user = state
        .db
        .create_user(&email, &hash, now_ms_i64())
        .await
        .map_err(ApiError::Database)?
        .ok_or(ApiError::EmailTaken)?;
    tracing::Span::current().record("user_id", user);
    tracing::info!(user_id = user, "account created");
    let session = start_session(&state, user, &headers).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Signs in: a new session token for the account.
#[utoipa::path(
    post, path = "/v1/sessions", tag = "accounts",
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = Session),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: the same for an unknown address and a wrong password", body = ErrorBody),
        (status = 429, description = "`rate_limited` (per client address, or too many failed log-ins for this e-mail address); see `Retry-After`", body = ErrorBody),
    )
)]
async fn log_in(
    State(state): State<AppState>,
    _: AddressRateLimited,
    headers: HeaderMap,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Json<Session>, ApiError> {
    let email = normalize_email(&credentials.email);
    // Failed log-ins are limited per account too: guesses from many addresses count.
    state.limits.login_failures.peek(email.clone())?;
    let user = state
        .db
        .user_by_email(&email)
        .await
        .map_err(ApiError::Database)?;
    let (id, hash) = user.map_or((None, None), |(id, hash)| (Some(id), Some(hash)));
    let ok = {
        let _turn = hash_turn(&state).await?;
        auth::verify_password(
            state.settings.password_cost,
            state.hashing.clone(),
            state.dummy_hash.clone(),
            hash,
            credentials.password,
        )
        .await?
    };
    let Some(user) = id.filter(|_| ok) else {
        state.limits.login_failures.take(email);
        return Err(ApiError::InvalidCredentials);
    };
    tracing::Span::current().record("user_id", user);
    Ok(Json(start_session(&state, user, &headers).await?))
}

/// A turn to compute an Argon2 hash: at most `--max-concurrent-hashes` at once.
async fn hash_turn(state: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    state
        .hashes
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("hash semaphore: {e}")))
}

/// A new session for `user`, labelled with the request's `User-Agent`. Beyond
/// `--max-sessions-per-user`, the user's least recently used others end.
async fn start_session(
    state: &AppState,
    user: i64,
    headers: &HeaderMap,
) -> Result<Session, ApiError> {
    let (token, hash) = auth::new_token()?;
    let now = now_ms();
    let ttl_ms = u64::try_from(state.settings.session_ttl.as_millis()).unwrap_or(u64::MAX);
    let expires_at = now.saturating_add(ttl_ms);
    let device = headers
        .get(header::USER_AGENT)
        .and_then(|agent| device_label(&String::from_utf8_lossy(agent.as_bytes())));
    let (_, ended) = state
        .db
        .create_session(&NewSession {
            token_hash: &hash,
            user,
            device: device.as_deref(),
            now_ms: to_i64(now),
            expires_at_ms: to_i64(expires_at),
            max_per_user: state.settings.max_sessions_per_user,
        })
        .await
        .map_err(ApiError::Database)?;
    if ended > 0 {
        tracing::debug!(
            user_id = user,
            ended,
            "least recently used sessions ended: too many"
        );
    }
    Ok(Session { token, expires_at })
}

/// Signs out: the token stops working.
#[utoipa::path(
    delete, path = "/v1/sessions/current", tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
    )
)]
async fn log_out(State(state): State<AppState>, user: AuthUser) -> Result<StatusCode, ApiError> {
    state
        .db
        .delete_session(&user.token_hash)
        .await
        .map_err(ApiError::Database)?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<SessionSummary> for SessionInfo {
    fn from(s: SessionSummary) -> Self {
        let ms = |t: i64| u64::try_from(t).unwrap_or(0);
        SessionInfo {
            id: s.id,
            device: s.device,
            created_at: ms(s.created_at),
            last_used_at: ms(s.last_used_at),
            expires_at: ms(s.expires_at),
            current: s.current,
        }
    }
}

/// The account's unexpired sessions, most recently used first.
#[utoipa::path(
    get, path = "/v1/sessions", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's sessions, the one asking marked `current`", body = Vec<SessionInfo>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
async fn list_sessions(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let sessions = state
        .db
        .list_sessions(user.id, &user.token_hash, now_ms_i64())
        .await
        .map_err(ApiError::Database)?;
    Ok(Json(sessions.into_iter().map(SessionInfo::from).collect()))
}

/// Signs out everywhere else: every session of the account but this one ends.
#[utoipa::path(
    delete, path = "/v1/sessions/others", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The other sessions ended; how many", body = EndedSessions),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
async fn end_other_sessions(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<EndedSessions>, ApiError> {
    let ended = state
        .db
        .end_other_sessions(user.id, &user.token_hash)
        .await
        .map_err(ApiError::Database)?;
    tracing::info!(user_id = user.id, ended, "other sessions ended");
    Ok(Json(EndedSessions { ended }))
}

/// Ends one of the account's sessions, by its public id (the current one too: that is
/// signing out).
#[utoipa::path(
    delete, path = "/v1/sessions/{id}", tag = "sessions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The session's public id, from `GET /api/v1/sessions`")),
    responses(
        (status = 204, description = "The session ended"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: the account has no session with this id (it ended, or it is not this account's)", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
async fn end_session(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let ended = state
        .db
        .end_session(user.id, &id)
        .await
        .map_err(ApiError::Database)?;
    if ended {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::SessionNotFound)
    }
}

/// Merges changes into the account's records: a change is stored only over the version
/// it was made from (its `base`); any other is answered with the version the server holds,
/// in `superseded`, for the device to combine with its change. The whole push is one
/// transaction and retrying it changes nothing. A `partial` push has each change that
/// breaks a per-record limit answered in `refused` instead of failing. Any push has each
/// change that would be stored but names a blob (in its value's top-level `blobs`) the
/// account does not hold answered in `refused` with `blob_missing`; the others go on.
#[utoipa::path(
    post, path = "/v1/sync/push", tag = "sync",
    security(("bearer" = [])),
    request_body = PushRequest,
    responses(
        (status = 200, description = "Merged; what was applied, the winners of what was not, and the changes refused (for a `partial` push, those breaking a limit; for any, `blob_missing`)", body = PushResponse),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 409, description = "`outdated_client`: the body is not sync protocol 2 (`protocol`); nothing was stored", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over 4 MiB", body = ErrorBody),
        (status = 422, description = "`invalid_change`: too many changes, or (unless the push is `partial`) a change breaks a limit; nothing was stored", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
async fn push(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    let PushRequest {
        protocol,
        device_id,
        changes,
        partial,
    } = request;
    if protocol < PUSH_PROTOCOL {
        return Err(ApiError::OutdatedClient(protocol));
    }
    let (changes, bases): (Vec<Record>, Vec<Option<Hlc>>) =
        changes.into_iter().map(Change::into_parts).unzip();
    // Each value is encoded once: its size is what the limit looks at, and the text is
    // what is stored.
    let values = encode_values(&changes).map_err(ApiError::Database)?;
    let (count, now) = (changes.len(), now_ms());
    let (changes, bases, values, refused) = match check_encoded(&changes, &values, now) {
        Ok(()) => (changes, bases, values, Vec::new()),
        // Only per-record limits can be answered per record.
        Err(err) if partial && !matches!(err, LimitError::TooManyChanges { .. }) => {
            sort_out(changes, bases, values, now)
        }
        Err(err) => return Err(ApiError::InvalidChange(err)),
    };
    let mut reply = state
        .db
        .push_encoded(user.id, &changes, &bases, values)
        .await
        .map_err(ApiError::Database)?;
    // The changes refused for their limits first, then those naming a missing blob.
    let mut refused = refused;
    refused.append(&mut reply.refused);
    reply.refused = refused;
    tracing::debug!(
        device = %device_id,
        changes = count,
        applied = reply.applied,
        duplicates = reply.duplicates,
        superseded = reply.superseded.len(),
        refused = reply.refused.len(),
        "push"
    );
    Ok(Json(reply))
}

/// Each change's value encoded as JSON text.
fn encode_values(changes: &[Record]) -> Result<Vec<String>, DbError> {
    changes
        .iter()
        .map(|c| serde_json::to_string(&c.value))
        .collect::<Result<_, _>>()
        .map_err(|e| DbError::Corrupt(e.to_string()))
}

/// The facts the per-record limits look at, for a change whose value is encoded as
/// `value` ([`cairn_protocol::limits::value_bytes`] is its length).
fn facts<'a>(change: &'a Record, value: &str) -> RecordFacts<'a> {
    RecordFacts {
        collection: &change.collection,
        id: &change.id,
        hlc: &change.hlc,
        deleted: change.deleted,
        value_is_null: change.value.is_null(),
        value_bytes: value.len(),
    }
}

/// [`cairn_protocol::limits::check_push`] on changes whose values are encoded already.
fn check_encoded(changes: &[Record], values: &[String], now_ms: u64) -> Result<(), LimitError> {
    if changes.len() > MAX_CHANGES_PER_PUSH {
        return Err(LimitError::TooManyChanges {
            count: changes.len(),
            max: MAX_CHANGES_PER_PUSH,
        });
    }
    changes
        .iter()
        .zip(values)
        .try_for_each(|(change, value)| check_record_facts(&facts(change, value), now_ms))
}

/// A partial push's changes within every per-record limit, with their bases and
/// encoded values.
type Valid = (Vec<Record>, Vec<Option<Hlc>>, Vec<String>);

/// Splits a partial push into the changes within every per-record limit (with their
/// bases and values) and the others, each answered with the limit it breaks. A refused
/// change is named as it was sent, however malformed its collection or id, so the
/// device can tell which it was.
fn sort_out(
    changes: Vec<Record>,
    bases: Vec<Option<Hlc>>,
    values: Vec<String>,
    now_ms: u64,
) -> (
    Vec<Record>,
    Vec<Option<Hlc>>,
    Vec<String>,
    Vec<RefusedChange>,
) {
    let mut valid: Valid = (Vec::with_capacity(changes.len()), Vec::new(), Vec::new());
    let mut refused = Vec::new();
    for ((change, base), value) in changes.into_iter().zip(bases).zip(values) {
        match check_record_facts(&facts(&change, &value), now_ms) {
            Ok(()) => {
                valid.0.push(change);
                valid.1.push(base);
                valid.2.push(value);
            }
            Err(err) => refused.push(RefusedChange {
                message: err.to_string(),
                error: ApiError::InvalidChange(err).code().to_owned(),
                collection: change.collection,
                id: change.id,
                hlc: change.hlc,
            }),
        }
    }
    (valid.0, valid.1, valid.2, refused)
}

/// The account's records changed after `since`, in server order, with the account's head.
#[utoipa::path(
    get, path = "/v1/sync/pull", tag = "sync",
    security(("bearer" = [])),
    params(PullQuery),
    responses(
        (status = 200, description = "A page of records in server order", body = PullResponse),
        (status = 400, description = "`bad_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
async fn pull(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<PullQuery>,
) -> Result<Json<PullPage>, ApiError> {
    let reply = state
        .db
        .pull(user.id, query.since, pull_limit(query.limit))
        .await
        .map_err(ApiError::Database)?;
    Ok(Json(reply))
}

/// The account's live changes: a server-sent event stream (`text/event-stream`, never
/// compressed) that says whenever the account's pull cursor moves. Its first event is
/// the account's head now; then one event after each push of the account that stores
/// something, through this server or another on the same database (bursts may coalesce
/// into the latest cursor); and, when nothing happened for a while (`--event-heartbeat-secs`,
/// 25 s), a `: heartbeat` comment. Every event is
/// `event: cursor` + `data: {"cursor": N, "epoch": "..."}` (a `CursorEvent`).
/// Authenticated with the bearer header, so it is opened with `fetch` and read as a
/// stream (not `EventSource`). A client that reconnects pulls from its cursor; the first
/// event tells it whether it missed anything. The stream ends when the server shuts down
/// and when the session ends (checked every minute).
#[utoipa::path(
    get, path = "/v1/sync/events", tag = "sync",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stream: `event: cursor` events whose data is a `CursorEvent`, and `: heartbeat` comments", content_type = "text/event-stream", body = CursorEvent),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many requests, or the account has `--max-event-streams-per-account` streams open here already; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`server_busy`: this server has `--max-event-streams` streams open (see `Retry-After`); or `database_unavailable`", body = ErrorBody),
    )
)]
async fn events(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::response::Response, ApiError> {
    let opened =
        crate::events::open(state.db.clone(), &state.streams, user.id, user.token_hash).await;
    // The request's in-flight slot is freed here, as the stream starts: streams are
    // counted on their own (`--max-event-streams`, `--max-event-streams-per-account`).
    drop(user);
    opened
}

/// `Cache-Control` of a blob: its bytes never change under its hash.
pub const BLOB_CACHE_CONTROL: &str = "private, max-age=31536000, immutable";

/// The longest `Content-Type` stored with a blob.
pub const MAX_CONTENT_TYPE_CHARS: usize = 255;

/// A blob's path parameter, checked to be a hash.
fn blob_hash(hash: String) -> Result<String, ApiError> {
    if is_hash(&hash) {
        Ok(hash)
    } else {
        Err(ApiError::BadRequest(format!(
            "{hash:?} is not a blob hash: 64 lowercase hex digits (SHA-256)"
        )))
    }
}

/// The media type an upload names (`application/octet-stream` if none): `type/subtype`
/// and parameters, printable ASCII, at most [`MAX_CONTENT_TYPE_CHARS`].
fn upload_content_type(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok("application/octet-stream".to_owned());
    };
    let bad = || {
        ApiError::BadRequest(format!(
            "the Content-Type {:?} is not a media type (type/subtype, at most {MAX_CONTENT_TYPE_CHARS} characters)",
            String::from_utf8_lossy(value.as_bytes())
        ))
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    let essence = text.split(';').next().unwrap_or("").trim();
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) && text.len() <= MAX_CONTENT_TYPE_CHARS => {
            Ok(text.to_owned())
        }
        _ => Err(bad()),
    }
}

/// Stores a blob: the bytes of the body, named by their SHA-256. The server hashes what
/// it reads and stores it (with its `Content-Type`) unless the account holds it already;
/// retrying changes nothing. A blob no record names is deleted after the grace period
/// (`--blob-grace-hours`): a device uploads it just before pushing the record naming it.
#[utoipa::path(
    put, path = "/v1/blobs/{hash}", tag = "blobs",
    security(("bearer" = [])),
    params(("hash" = String, Path, description = "SHA-256 of the body, 64 lowercase hex digits")),
    request_body(content_type = "application/octet-stream", description = "The file's bytes; its `Content-Type` (any media type, default `application/octet-stream`) is stored and served back"),
    responses(
        (status = 200, description = "The account held it already: nothing was written", body = StoredBlob),
        (status = 201, description = "Stored", body = StoredBlob),
        (status = 400, description = "`bad_request`: not a hash, or not a media type; `hash_mismatch`: the body's SHA-256 is another", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 413, description = "`blob_too_large`: over `--max-blob-mb` (10 MiB); the message says the limit", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
        (status = 507, description = "`quota_exceeded`: the account's blobs would pass `--blob-quota-mb`; the message says how much they take of how much", body = ErrorBody),
    )
)]
async fn put_blob(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(hash): ApiPath<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<StoredBlob>), ApiError> {
    use futures_util::TryStreamExt;
    use sha2::Digest;
    let hash = blob_hash(hash)?;
    let content_type = upload_content_type(&headers)?;
    let max_bytes = state.settings.max_blob_bytes;
    let too_large = ApiError::BlobTooLarge { max_bytes };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes) {
        return Err(too_large);
    }
    // A turn first: uploads being read at once are bounded, and so is their memory.
    let _turn = state
        .blob_uploads
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("upload semaphore: {e}")))?;
    // Read here, not by an extractor: this route's limit is the per-file one.
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let mut data = Vec::with_capacity(declared.map_or(0, |len| len as usize).min(limit));
    let mut hasher = sha2::Sha256::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?
    {
        if data.len() + chunk.len() > limit {
            return Err(too_large);
        }
        hasher.update(&chunk);
        data.extend_from_slice(&chunk);
    }
    let actual = format!("{:x}", hasher.finalize());
    if actual != hash {
        return Err(ApiError::HashMismatch {
            expected: hash,
            actual,
        });
    }
    let quota_bytes = state.settings.blob_quota_bytes;
    let put = state
        .db
        .put_blob(&NewBlob {
            user: user.id,
            hash: &hash,
            content_type: &content_type,
            data: &data,
            now_ms: now_ms_i64(),
            quota_bytes,
        })
        .await
        .map_err(ApiError::Database)?;
    let size = data.len() as u64;
    let (status, created) = match put {
        PutBlob::Created => (StatusCode::CREATED, true),
        PutBlob::Existing => (StatusCode::OK, false),
        PutBlob::OverQuota { used_bytes } => {
            return Err(ApiError::QuotaExceeded {
                size_bytes: size,
                used_bytes,
                quota_bytes,
            })
        }
    };
    tracing::debug!(user_id = user.id, size, created, "blob stored");
    Ok((
        status,
        Json(StoredBlob {
            hash,
            size,
            created,
        }),
    ))
}

/// A blob's bytes, with the `Content-Type` it was uploaded with. Its `ETag` is its hash
/// in quotes and it may be cached for ever (`immutable`); `If-None-Match` with the tag
/// is `304`. Only the account's own blobs are served: another account's is `404`, as
/// one nobody has.
#[utoipa::path(
    get, path = "/v1/blobs/{hash}", tag = "blobs",
    security(("bearer" = [])),
    params(("hash" = String, Path, description = "SHA-256 of the bytes, 64 lowercase hex digits")),
    responses(
        (status = 200, description = "The bytes (never compressed), `ETag: \"<hash>\"`, `Cache-Control: private, max-age=31536000, immutable`", content_type = "application/octet-stream"),
        (status = 304, description = "Not modified: `If-None-Match` named its tag"),
        (status = 400, description = "`bad_request`: not a hash", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: the account holds no blob with this hash", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
async fn get_blob(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(hash): ApiPath<String>,
    headers: HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::HeaderValue;
    use axum::response::IntoResponse;
    let hash = blob_hash(hash)?;
    let tag = format!("\"{hash}\"");
    let cached = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag);
    let etag = HeaderValue::from_str(&tag).map_err(|e| ApiError::Internal(e.to_string()))?;
    let caching = [
        (header::ETAG, etag),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(BLOB_CACHE_CONTROL),
        ),
    ];
    let mut response = if cached {
        let missing = state
            .db
            .missing_blobs(user.id, std::slice::from_ref(&hash))
            .await
            .map_err(ApiError::Database)?;
        if !missing.is_empty() {
            return Err(ApiError::BlobNotFound);
        }
        (StatusCode::NOT_MODIFIED, caching).into_response()
    } else {
        let blob = state
            .db
            .blob(user.id, &hash)
            .await
            .map_err(ApiError::Database)?
            .ok_or(ApiError::BlobNotFound)?;
        let content_type = HeaderValue::from_str(&blob.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        (caching, [(header::CONTENT_TYPE, content_type)], blob.data).into_response()
    };
    response.extensions_mut().insert(crate::Uncompressed);
    Ok(response)
}

/// Which of these blobs the account does not hold: what a device uploads before pushing
/// records that name them (after signing in to another account, or when the server's
/// database was restored).
#[utoipa::path(
    post, path = "/v1/blobs/missing", tag = "blobs",
    security(("bearer" = [])),
    request_body = MissingBlobsRequest,
    responses(
        (status = 200, description = "The hashes asked about that the account does not hold, in the order asked", body = MissingBlobs),
        (status = 400, description = "`bad_request`: more than 1000 hashes, or one is not a hash", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
async fn missing_blobs(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<MissingBlobsRequest>,
) -> Result<Json<MissingBlobs>, ApiError> {
    if request.hashes.len() > MAX_MISSING_QUERY {
        return Err(ApiError::BadRequest(format!(
            "{} hashes asked about; at most {MAX_MISSING_QUERY} at once",
            request.hashes.len()
        )));
    }
    if let Some(bad) = request.hashes.iter().find(|h| !is_hash(h)) {
        return Err(ApiError::BadRequest(format!(
            "{bad:?} is not a blob hash: 64 lowercase hex digits (SHA-256)"
        )));
    }
    let missing = state
        .db
        .missing_blobs(user.id, &request.hashes)
        .await
        .map_err(ApiError::Database)?;
    Ok(Json(MissingBlobs { missing }))
}

/// The account's blobs on the server (how many, their bytes) and the server's limits.
#[utoipa::path(
    get, path = "/v1/blobs", tag = "blobs",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Usage and limits", body = BlobUsage),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
async fn blob_usage(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<BlobUsage>, ApiError> {
    let totals = state
        .db
        .blob_totals(user.id)
        .await
        .map_err(ApiError::Database)?;
    Ok(Json(BlobUsage {
        bytes: totals.bytes,
        count: totals.count,
        quota_bytes: state.settings.blob_quota_bytes,
        max_blob_bytes: state.settings.max_blob_bytes,
    }))
}

fn now_ms_i64() -> i64 {
    to_i64(now_ms())
}

fn to_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}
