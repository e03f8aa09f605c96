//! The Cairn sync server: serves the built app and the JSON API from one origin.
//!
//! # Layout
//! - [`config`]: command-line flags and environment variables.
//! - [`db`]: the database (SQLite by default, PostgreSQL by URL); the only module that
//!   knows SQL dialects.
//! - [`error`]: [`ApiError`], the one error type API handlers return, mapped to JSON
//!   responses that never leak internals.
//! - [`api`]: the `/api` routes.
//! - [`static_files`]: the built app, with the cache policy the service worker relies on.
//!
//! [`app`] builds the whole router from an [`AppState`]; tests drive it with
//! `tower::ServiceExt::oneshot` without opening a socket.

pub mod api;
pub mod config;
pub mod db;
pub mod error;
pub mod static_files;

use std::path::PathBuf;

use axum::Router;

pub use config::Config;
pub use db::Database;
pub use error::ApiError;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    /// The directory of the built app (trunk's `dist/`).
    pub static_dir: PathBuf,
}

/// The whole server: `/api/...` plus the built app for every other path.
pub fn app(state: AppState) -> Router {
    let static_dir = state.static_dir.clone();
    Router::new()
        .nest("/api", api::router())
        .with_state(state)
        .fallback_service(static_files::service(&static_dir))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}
