//! The `/api` routes.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .fallback(|| async { ApiError::NotFound })
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Health {
    pub status: String,
    /// The server's version (the workspace version).
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// `GET /api/health`: the server is up and its database answers.
async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state
        .db
        .ping()
        .await
        .map_err(ApiError::DatabaseUnavailable)?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: state.db.kind().into(),
    }))
}
