//! The one error type of the API. Each variant maps to a status code and a JSON body
//! `{"error": "<code>", "message": "<text>"}`; internal details go to the log, never to
//! the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no such API endpoint")]
    NotFound,
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] DbError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => "not_found",
            ApiError::DatabaseUnavailable(_) => "database_unavailable",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::DatabaseUnavailable(source) = &self {
            tracing::error!(error = %source, "database unavailable");
        }
        let body = Json(json!({"error": self.code(), "message": self.to_string()}));
        (self.status(), body).into_response()
    }
}
