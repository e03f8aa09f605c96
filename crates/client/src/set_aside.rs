//! Local changes set aside: ones the server refused (or that break a protocol limit
//! before being sent), taken out of the outbox with the reason so that one bad record
//! never blocks the rest of sync — and never dropped.
//!
//! A set-aside change stays the record's local version. It leaves the list when the user
//! retries it ([`Store::retry_set_aside`]: stamped anew and queued, e.g. once the
//! device's clock is right again), dismisses it (the version stays on this device,
//! unsynced), or edits the record again (the newer change replaces it). A change from
//! elsewhere that beats it logs it as a conflict, like any unpushed change.

use cairn_protocol::{Record, RecordKey};
use serde::{Deserialize, Serialize};

use crate::codec::{from_js, now_ms, to_js};
use crate::js_record::JsRecord;
use crate::schema::SET_ASIDE;
use crate::store::{OutboxEntry, Store};
use crate::StoreError;

/// A local change taken out of sync, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SetAside {
    /// The version that was refused.
    pub record: Record,
    /// Why (the server's or the protocol's sentence).
    pub reason: String,
    /// When it was set aside, in ms since the Unix epoch.
    pub set_aside_at_ms: u64,
}

/// The stored row: keyed by `[collection, id]` like `records`. `base` and `created` are
/// those of the change's outbox entry ([`OutboxEntry`]), so that editing the record again
/// makes the new change from the same version (the store reads them, `MadeFrom::of_row`).
#[derive(Serialize, Deserialize)]
struct Row<R> {
    collection: String,
    id: String,
    record: R,
    reason: String,
    set_aside_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<JsRecord>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    created: bool,
}

impl Store {
    /// Every set-aside change, oldest first.
    pub async fn set_aside(&self) -> Result<Vec<SetAside>, StoreError> {
        let mut all = self
            .backend
            .set_aside_rows()
            .await?
            .into_iter()
            .map(|raw| {
                let row = from_js::<Row<Record>>(raw).map_err(|reason| StoreError::Corrupt {
                    collection: SET_ASIDE.into(),
                    id: String::new(),
                    reason,
                })?;
                Ok(SetAside {
                    record: row.record,
                    reason: row.reason,
                    set_aside_at_ms: row.set_aside_at_ms,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        all.sort_by_key(|s| s.set_aside_at_ms);
        Ok(all)
    }

    /// Moves each refused change (with its reason) from the outbox to the set-aside list,
    /// in one transaction — unless its record changed again since (then the newer change
    /// stays queued and replaces it). Returns how many were set aside.
    pub(crate) async fn set_aside_refused(
        &self,
        refused: &[(JsRecord, String)],
    ) -> Result<usize, StoreError> {
        let now = now_ms();
        let row = |record: &JsRecord, reason: &str, entry: OutboxEntry| {
            to_js(&Row {
                collection: record.collection.clone(),
                id: record.id.clone(),
                record,
                reason: reason.to_owned(),
                set_aside_at_ms: now,
                base: entry.base,
                created: entry.created,
            })
        };
        self.backend.set_aside_refused(refused, row).await
    }

    /// Tries a set-aside change again: the record's current version becomes a new local
    /// change (a fresh clock, queued for sync), and leaves the list. If it is refused
    /// again, it is set aside again with the new reason.
    pub async fn retry_set_aside(&self, item: &SetAside) -> Result<Record, StoreError> {
        let key = item.record.key();
        let current = self.get(&key).await?.unwrap_or_else(|| item.record.clone());
        if current.deleted {
            self.delete(key).await
        } else {
            self.write(key, current.value).await
        }
    }

    /// Removes a change from the list without syncing it: the version stays on this
    /// device as it is.
    pub async fn dismiss_set_aside(&self, item: &SetAside) -> Result<(), StoreError> {
        let key: RecordKey = item.record.key();
        self.backend.delete_set_aside(&key).await
    }
}
