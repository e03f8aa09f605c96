//! The one error type of the API. Each variant maps to a status code and a JSON body
//! `{"error": "<code>", "message": "<text>"}` ([`ErrorBody`]); internal details go to the
//! log, never to the client.
//!
//! [`ApiJson`], [`ApiQuery`] and [`ApiPath`] are axum's `Json`, `Query` and `Path` extractors with their
//! rejections turned into these errors (`400 bad_request`, `413 payload_too_large`).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn_protocol::api::ErrorBody;
use cairn_protocol::LimitError;

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no such API endpoint")]
    NotFound,
    #[error("this account has no session with that id")]
    SessionNotFound,
    #[error("this API endpoint does not take that method; see the Allow header")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is larger than the {max} bytes allowed", max = cairn_protocol::limits::MAX_PUSH_BYTES)]
    PayloadTooLarge,
    #[error("sign in first: the bearer token is missing, unknown or expired")]
    Unauthorized,
    #[error("wrong e-mail address or password")]
    InvalidCredentials,
    #[error("{0}")]
    InvalidCredentialsFormat(LimitError),
    #[error("an account with this e-mail address already exists")]
    EmailTaken,
    #[error("{0}")]
    InvalidChange(LimitError),
    #[error(
        "this app pushes with sync protocol {0}, and the server takes {current}: reload the \
         app to update it (changes not yet synced stay on the device)",
        current = cairn_protocol::api::PUSH_PROTOCOL
    )]
    OutdatedClient(u32),
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the server is busy; try again in a second")]
    Busy,
    #[error("this account has no file with that hash")]
    BlobNotFound,
    #[error("the body's SHA-256 is {actual}, not the {expected} named in the path")]
    HashMismatch { expected: String, actual: String },
    #[error(
        "the file is larger than the {} MB ({max_bytes} bytes) the server takes per file",
        mb(*max_bytes)
    )]
    BlobTooLarge { max_bytes: u64 },
    #[error(
        "this file ({} MB) does not fit: the account's files take {} MB of its {} MB on the \
         server ({used_bytes} of {quota_bytes} bytes)",
        mb(*size_bytes), mb(*used_bytes), mb(*quota_bytes)
    )]
    QuotaExceeded {
        size_bytes: u64,
        used_bytes: u64,
        quota_bytes: u64,
    },
    #[error("the database is unavailable")]
    Database(#[source] DbError),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound | ApiError::SessionNotFound | ApiError::BlobNotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::HashMismatch { .. } => StatusCode::BAD_REQUEST,
            ApiError::BlobTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::QuotaExceeded { .. } => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::InvalidCredentialsFormat(_) | ApiError::InvalidChange(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::EmailTaken | ApiError::OutdatedClient(_) => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Database(DbError::Corrupt(_) | DbError::Inconsistent(_))
            | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound | ApiError::SessionNotFound | ApiError::BlobNotFound => "not_found",
            ApiError::HashMismatch { .. } => "hash_mismatch",
            ApiError::BlobTooLarge { .. } => "blob_too_large",
            ApiError::QuotaExceeded { .. } => "quota_exceeded",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::InvalidCredentialsFormat(_) => "invalid_credentials_format",
            ApiError::EmailTaken => "email_taken",
            ApiError::InvalidChange(_) => "invalid_change",
            ApiError::OutdatedClient(_) => "outdated_client",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Busy => "server_busy",
            ApiError::Database(DbError::Corrupt(_) | DbError::Inconsistent(_))
            | ApiError::Internal(_) => "internal",
            ApiError::Database(_) => "database_unavailable",
        }
    }
}

/// Bytes as megabytes (MiB) for a message: one decimal, none when whole.
fn mb(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if bytes % (1024 * 1024) == 0 {
        format!("{mb:.0}")
    } else {
        format!("{mb:.1}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Database(source) => tracing::error!(error = %source, "database error"),
            ApiError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            _ => {}
        }
        let message = match &self {
            ApiError::Database(DbError::Corrupt(_) | DbError::Inconsistent(_)) => {
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let body = Json(ErrorBody {
            error: self.code().to_owned(),
            message,
        });
        let mut response = (self.status(), body).into_response();
        match self {
            ApiError::RateLimited { retry_after_secs } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            ApiError::Busy => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            ApiError::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// A JSON request body; malformed → `400 bad_request`, too large → `413`.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Query parameters; malformed → `400 bad_request`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Path parameters; malformed → `400 bad_request`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);
