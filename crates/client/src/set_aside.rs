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
use rexie::TransactionMode;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::codec::{from_js, now_ms, to_js};
use crate::js_record::JsRecord;
use crate::schema::{OUTBOX, SET_ASIDE};
use crate::store::{commit, key_js, Backend, MadeFrom, OutboxEntry, Store};
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
/// makes the new change from the same version.
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

/// What the set-aside change of the stored row `raw` was made from.
pub(crate) fn made_from(raw: &JsValue) -> MadeFrom {
    #[derive(Deserialize)]
    struct Base {
        #[serde(default)]
        base: Option<JsRecord>,
        #[serde(default)]
        created: bool,
    }
    match from_js::<Base>(raw.clone()) {
        Ok(Base {
            base: Some(base), ..
        }) => MadeFrom::Version(base),
        Ok(Base { created: true, .. }) => MadeFrom::Nothing,
        _ => MadeFrom::AsItIs,
    }
}

impl Store {
    /// Every set-aside change, oldest first.
    pub async fn set_aside(&self) -> Result<Vec<SetAside>, StoreError> {
        let raws: Vec<JsValue> = match &self.backend {
            Backend::Memory(_, mem) => mem.borrow().set_aside.values().cloned().collect(),
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[SET_ASIDE], TransactionMode::ReadOnly)?;
                tx.store(SET_ASIDE)?.get_all(None, None).await?
            }
        };
        let mut all = raws
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
        match &self.backend {
            Backend::Memory(_, mem) => {
                let mut mem = mem.borrow_mut();
                let mut moved = 0;
                for (record, reason) in refused {
                    let key = record.key();
                    if mem.outbox.get(&key).is_some_and(|e| e.hlc == record.hlc) {
                        let entry = mem.outbox.remove(&key).expect("the entry just found");
                        mem.set_aside.insert(key, row(record, reason, entry)?);
                        moved += 1;
                    }
                }
                Ok(moved)
            }
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[OUTBOX, SET_ASIDE], TransactionMode::ReadWrite)?;
                let (outbox, set_aside) = (tx.store(OUTBOX)?, tx.store(SET_ASIDE)?);
                let mut moved = 0;
                for (record, reason) in refused {
                    let key = key_js(&record.key());
                    let entry = outbox.get(key.clone()).await?;
                    let current = entry.and_then(|e| from_js::<OutboxEntry>(e).ok());
                    if let Some(entry) = current.filter(|e| e.hlc == record.hlc) {
                        outbox.delete(key).await?;
                        set_aside.put(&row(record, reason, entry)?, None).await?;
                        moved += 1;
                    }
                }
                commit(tx).await?;
                Ok(moved)
            }
        }
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
        match &self.backend {
            Backend::Memory(_, mem) => {
                mem.borrow_mut().set_aside.remove(&key);
                Ok(())
            }
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[SET_ASIDE], TransactionMode::ReadWrite)?;
                tx.store(SET_ASIDE)?.delete(key_js(&key)).await?;
                commit(tx).await
            }
        }
    }
}
