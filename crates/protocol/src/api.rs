//! The JSON bodies of the HTTP API (`/api/v1`), shared by the server and the client.
//! The full protocol, with the endpoints and their status codes, is described in the
//! crate documentation.

use serde::{Deserialize, Serialize};

use crate::hlc::DeviceId;
use crate::record::Record;

/// `POST /api/v1/accounts` and `POST /api/v1/sessions`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A signed-in session: the bearer token and when it expires.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Goes in `Authorization: Bearer <token>`.
    pub token: String,
    /// Milliseconds since the Unix epoch.
    #[cfg_attr(feature = "openapi", schema(example = 1_700_000_000_000u64))]
    pub expires_at: u64,
}

/// `POST /api/v1/sync/push`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    /// The pushing device.
    pub device_id: DeviceId,
    /// At most [`crate::limits::MAX_CHANGES_PER_PUSH`] records.
    pub changes: Vec<Record>,
}

/// The reply to a push. The push is applied atomically: either this reply, or an error
/// and nothing stored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    /// How many changes were stored (newer than what the server held).
    pub applied: u32,
    /// How many were already there (the same clock): a retried push.
    pub duplicates: u32,
    /// For each change not taken because the server holds a newer version: that newer
    /// version (the winner).
    pub superseded: Vec<Record>,
    /// The account's pull cursor before this push and after it: the versions this push
    /// stored took the positions `seq_before + 1 ..= seq_after`. A client whose cursor was
    /// `seq_before` may move it to `seq_after` without pulling its own changes back.
    #[serde(default)]
    pub seq_before: u64,
    #[serde(default)]
    pub seq_after: u64,
}

/// `GET /api/v1/sync/pull?since=<cursor>&limit=<n>`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PullQuery {
    /// The cursor of the previous pull; 0 (or absent) for everything.
    #[serde(default)]
    pub since: u64,
    /// Page size; see [`crate::limits::pull_limit`].
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The reply to a pull: the records changed after `since`, in server order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    pub records: Vec<Record>,
    /// Pass as `since` next time. Equal to `since` when there was nothing new.
    pub cursor: u64,
    /// Whether more records remain after this page.
    pub more: bool,
}

/// Every error response: a stable machine-readable code and a sentence for people.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}
