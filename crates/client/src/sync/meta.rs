//! What sync keeps on this device and never syncs: in the store's `meta`, the session,
//! where pulling resumes and how the last round went; in the conflict log, one row per
//! lost version ([`StoredConflict`]).
//!
//! The pull position is also written by the store itself, in the transaction that
//! applies a pulled page or an acknowledged push (`push` and `pull` hand it over with
//! its `meta` key), so it never runs ahead of or behind the records it counts.

use cairn_protocol::{Conflict, Hlc};
use serde::{Deserialize, Serialize};

use super::SyncEngine;
use crate::schema::{META_LAST_SYNC, META_PULL_POSITION, META_SESSION};
use crate::StoreError;

/// The signed-in account on this device (kept in `meta`, never synced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    pub email: String,
    pub token: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: u64,
}

/// Where pulling resumes, and for which account and server database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullPosition {
    pub email: String,
    pub cursor: u64,
    /// The server database's epoch the cursor belongs to (empty: not known yet).
    #[serde(default)]
    pub epoch: String,
}

/// How the last sync round went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSync {
    /// When the last round that succeeded finished.
    pub succeeded_at_ms: Option<u64>,
    /// The error of the last round, if it failed.
    pub error: Option<String>,
    /// When the last round (of either outcome) finished.
    pub finished_at_ms: u64,
}

/// A logged conflict as stored: keyed by the record and the lost version's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredConflict {
    pub collection: String,
    pub id: String,
    pub lost_hlc: Hlc,
    pub conflict: Conflict,
}

impl SyncEngine<'_> {
    /// The stored session, whether or not it expired.
    pub(super) async fn stored_session(&self) -> Result<Option<StoredSession>, StoreError> {
        self.store.meta(META_SESSION).await
    }

    /// Stores `session` as this device's (`None`: signed out).
    pub(super) async fn store_session(
        &self,
        session: Option<&StoredSession>,
    ) -> Result<(), StoreError> {
        self.store.set_meta(META_SESSION, session).await
    }

    /// Where pulling resumes, if this device pulled before.
    pub(super) async fn pull_position(&self) -> Result<Option<PullPosition>, StoreError> {
        self.store.meta(META_PULL_POSITION).await
    }

    /// Forgets where pulling resumes: the next pull starts from the beginning of the
    /// account.
    pub(super) async fn forget_pull_position(&self) -> Result<(), StoreError> {
        self.store
            .set_meta::<PullPosition>(META_PULL_POSITION, None)
            .await
    }

    /// How the last round went, if one finished.
    pub(super) async fn last_sync(&self) -> Result<Option<LastSync>, StoreError> {
        self.store.meta(META_LAST_SYNC).await
    }

    pub(super) async fn store_last_sync(&self, last: &LastSync) -> Result<(), StoreError> {
        self.store.set_meta(META_LAST_SYNC, Some(last)).await
    }
}
