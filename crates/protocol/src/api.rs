//! The JSON bodies of the HTTP API (`/api/v1`), shared by the server and the client.
//! The full protocol, with the endpoints and their status codes, is described in the
//! crate documentation.

use serde::{Deserialize, Serialize};

use crate::hlc::{DeviceId, Hlc};
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

/// The version of the push body this crate speaks: 2 adds each change's
/// [`Change::base`]. The server refuses older pushes (`409 outdated_client`).
pub const PUSH_PROTOCOL: u32 = 2;

/// `POST /api/v1/sync/push`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    /// [`PUSH_PROTOCOL`]; a body without it is version 1.
    #[serde(default = "protocol_v1")]
    pub protocol: u32,
    /// The pushing device.
    pub device_id: DeviceId,
    /// At most [`crate::limits::MAX_CHANGES_PER_PUSH`] changes.
    pub changes: Vec<Change>,
    /// Whether the device takes a partial push: when true, a change that breaks a
    /// per-record limit (too large, dated too far ahead, …) is answered in
    /// [`PushResponse::refused`] and the others are applied. When false (clients that
    /// predate it), one such change refuses the whole push with `422 invalid_change`.
    #[serde(default)]
    pub partial: bool,
}

fn protocol_v1() -> u32 {
    1
}

/// One change of a push: the new version of a record, and the version it was made from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub collection: String,
    pub id: String,
    pub value: serde_json::Value,
    pub hlc: Hlc,
    #[serde(default)]
    pub deleted: bool,
    /// The clock of the version this change was made from: `null` for a record the device
    /// created; the change's own clock to re-send a version as it is (merged by clock
    /// alone). The server stores the change only over that version ([`crate::admit`]).
    #[serde(default)]
    pub base: Option<Hlc>,
}

impl Change {
    /// `record`, made from the version with clock `base`.
    pub fn new(record: Record, base: Option<Hlc>) -> Self {
        Change {
            collection: record.collection,
            id: record.id,
            value: record.value,
            hlc: record.hlc,
            deleted: record.deleted,
            base,
        }
    }

    /// `record` re-sent as it is: its own clock as the base, so the server merges it by
    /// clock alone (a replay: after a server lost it, from a restored backup).
    pub fn replay(record: Record) -> Self {
        let base = Some(record.hlc.clone());
        Change::new(record, base)
    }

    /// The record this change writes, and its base.
    pub fn into_parts(self) -> (Record, Option<Hlc>) {
        let record = Record {
            collection: self.collection,
            id: self.id,
            value: self.value,
            hlc: self.hlc,
            deleted: self.deleted,
        };
        (record, self.base)
    }
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
    /// For each change not taken — because it was made from another version than the one
    /// the server holds (a concurrent edit), or the server holds a newer one — the version
    /// the server holds, once per record.
    pub superseded: Vec<Record>,
    /// The account's pull cursor before this push and after it: the versions this push
    /// stored took the positions `seq_before + 1 ..= seq_after`. A client whose cursor was
    /// `seq_before` may move it to `seq_after` without pulling its own changes back.
    #[serde(default)]
    pub seq_before: u64,
    #[serde(default)]
    pub seq_after: u64,
    /// The changes the server refused, each with why (only for a
    /// [`PushRequest::partial`] push): nothing of them was stored.
    #[serde(default)]
    pub refused: Vec<RefusedChange>,
    /// The identity of the server's database ([`ServerClock::epoch`]).
    #[serde(flatten)]
    pub server: ServerClock,
}

/// A pushed change the server did not store, and why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedChange {
    pub collection: String,
    pub id: String,
    /// The refused change's clock, so the device knows which version it was.
    pub hlc: crate::hlc::Hlc,
    /// The machine-readable reason (`invalid_change`).
    pub error: String,
    /// The sentence for people (the limit that was broken).
    pub message: String,
}

/// What every sync reply says about the server itself.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServerClock {
    /// A random id the database got when it was created (or when an operator gave it a
    /// new one after restoring a backup). Pull cursors are only meaningful within one
    /// epoch: a device that sees a different epoch than its cursor's pulls from the
    /// start and pushes everything it holds again. Empty from servers that predate it.
    #[serde(default)]
    pub epoch: String,
    /// The server's clock when it answered, in ms since the Unix epoch (0 from servers
    /// that predate it). Devices correct their own clock by it, so that their changes
    /// are not refused as dated in the future.
    #[serde(default)]
    pub server_time_ms: u64,
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
    /// The account's latest sequence number when the page was read (0 from servers that
    /// predate it). A `since` above it means the server lost versions the device already
    /// pulled (a database restored from an older copy): the device starts over.
    #[serde(default)]
    pub head: u64,
    /// How many of the account's records remain after this page: those numbered above
    /// `cursor`, counted in the same snapshot as the page (0 when `more` is false, and
    /// from servers that predate it). A first sync shows its progress by it.
    #[serde(default)]
    pub remaining: u64,
    #[serde(flatten)]
    pub server: ServerClock,
}

/// The name of the events of `GET /api/v1/sync/events` that carry a [`CursorEvent`].
pub const CURSOR_EVENT: &str = "cursor";

/// The data of an `event: cursor` of `GET /api/v1/sync/events` (a server-sent event
/// stream): the account's pull cursor now. The first one is the account's head when the
/// stream opened; the others follow pushes of the account (its `seq_after`). A device
/// whose cursor (in this epoch) is below `cursor` pulls; one that sees another `epoch`
/// than its cursor's starts over, as after any reply in another epoch.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorEvent {
    /// The account's latest sequence number: a pull from a smaller cursor has records.
    pub cursor: u64,
    /// The database's epoch ([`ServerClock::epoch`]).
    pub epoch: String,
}

/// Every error response: a stable machine-readable code and a sentence for people.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// One of the account's sessions, as `GET /api/v1/sessions` lists it. Times are ms
/// since the Unix epoch.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session's public id (not its token): names it in
    /// `DELETE /api/v1/sessions/{id}`.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "3f2a9c0e5b7d41e8a6c4b2d0f1e3a5c7")
    )]
    pub id: String,
    /// The `User-Agent` it signed in with, shortened (at most 160 characters); `null`
    /// if there was none.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
    )]
    pub device: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = 1_700_000_000_000u64))]
    pub created_at: u64,
    /// When a request last used it, to the minute: it moves at most once a minute.
    #[cfg_attr(feature = "openapi", schema(example = 1_700_000_600_000u64))]
    pub last_used_at: u64,
    #[cfg_attr(feature = "openapi", schema(example = 1_702_592_000_000u64))]
    pub expires_at: u64,
    /// Whether this is the session of the token the list was asked with.
    pub current: bool,
}

/// What `DELETE /api/v1/sessions/others` ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedSessions {
    /// How many sessions ended.
    pub ended: u64,
}

/// `GET /api/v1/blobs`: the account's blobs on the server, and its limits.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobUsage {
    /// Bytes of all the account's blobs.
    pub bytes: u64,
    /// How many blobs it holds.
    pub count: u64,
    /// How many bytes of blobs the account may hold.
    pub quota_bytes: u64,
    /// The largest blob the server takes, in bytes.
    pub max_blob_bytes: u64,
}

/// `POST /api/v1/blobs/missing`: which of these blobs the server lacks (at most
/// [`crate::blobs::MAX_MISSING_QUERY`] hashes).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingBlobsRequest {
    pub hashes: Vec<String>,
}

/// The reply to [`MissingBlobsRequest`]: the hashes the account does not hold, in the
/// order asked.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingBlobs {
    pub missing: Vec<String>,
}

/// The reply to `PUT /api/v1/blobs/{hash}`: the blob is held now.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBlob {
    pub hash: String,
    pub size: u64,
    /// False when the account held it already (nothing was written).
    pub created: bool,
}
