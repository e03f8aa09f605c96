//! Local snapshots: a copy of every record, kept on this device (never synced), to go
//! back to.
//!
//! A snapshot is a backup file ([`cairn_protocol::backup`], JSON) stored as a `Blob` in
//! the `snapshots` object store, beside its id, time, record count and size. IndexedDB
//! keeps Blobs out of line, so listing snapshots does not read their contents. Restoring
//! one is "Replace all" from it, over every collection: collections created since are
//! cleared too. The newest `keep` snapshots are kept; older ones are deleted when a new
//! one is taken.
//!
//! Snapshots need IndexedDB: a memory store has none (listing returns none, taking one
//! fails with [`StoreError::Unavailable`]).

use cairn_protocol::backup::{self, FileFormat, ImportMode, Plan, Validated};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::codec::{now_ms, random_u64};
use crate::schema::SNAPSHOTS;
use crate::store::{Idb, Store};
use crate::StoreError;

/// `meta` key: page-visible time counted towards the next automatic snapshot.
const META_SNAPSHOT_USE_MS: &str = "snapshot_use_ms";

/// One snapshot, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotInfo {
    pub id: String,
    pub created_at_ms: u64,
    /// Records in it (tombstones included).
    pub records: usize,
    /// Size of its file, in bytes.
    pub bytes: usize,
    /// Taken by the timer (true) or by the user.
    pub automatic: bool,
}

impl Store {
    /// Takes a snapshot of every record now, then keeps only the newest `keep`.
    pub async fn create_snapshot(
        &self,
        automatic: bool,
        keep: usize,
        app_version: &str,
    ) -> Result<SnapshotInfo, StoreError> {
        let db = idb(self)?;
        let backup = self.export(None, app_version).await?;
        let text = backup
            .to_text(FileFormat::Json)
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        // Strictly after the newest snapshot, so that order of time is order of taking.
        let newest = self
            .snapshots()
            .await?
            .first()
            .map_or(0, |s| s.created_at_ms + 1);
        let created_at_ms = now_ms().max(newest);
        let info = SnapshotInfo {
            id: format!("{created_at_ms:013}-{:016x}", random_u64()?),
            created_at_ms,
            records: backup.records.len(),
            bytes: text.len(),
            automatic,
        };
        let blob = web_sys::Blob::new_with_str_sequence(&Array::of1(&JsValue::from_str(&text)))
            .map_err(|e| StoreError::Encode(format!("{e:?}")))?;
        let row = Object::new();
        for (field, value) in [
            ("id", JsValue::from_str(&info.id)),
            ("created_at_ms", JsValue::from(created_at_ms as f64)),
            ("records", JsValue::from(info.records as f64)),
            ("bytes", JsValue::from(info.bytes as f64)),
            ("automatic", JsValue::from_bool(automatic)),
            ("data", blob.into()),
        ] {
            Reflect::set(&row, &field.into(), &value)
                .map_err(|e| StoreError::Encode(format!("{e:?}")))?;
        }
        db.put(SNAPSHOTS, &row, None).await?;
        self.prune_snapshots(keep).await?;
        Ok(info)
    }

    /// Keeps every record of this device in a new snapshot (kept like one the user took),
    /// then removes all records, queued changes, conflicts and set-aside changes from
    /// this device without queuing anything: for starting another account empty. The
    /// snapshot restores them.
    pub async fn set_data_aside(&self) -> Result<SnapshotInfo, StoreError> {
        let info = self
            .create_snapshot(false, usize::MAX, env!("CARGO_PKG_VERSION"))
            .await?;
        self.backend.clear_local_data().await?;
        Ok(info)
    }

    /// Every snapshot, newest first.
    pub async fn snapshots(&self) -> Result<Vec<SnapshotInfo>, StoreError> {
        let Ok(db) = idb(self) else {
            return Ok(Vec::new());
        };
        let rows = db.get_all(SNAPSHOTS).await?;
        let mut list: Vec<SnapshotInfo> = rows
            .iter()
            .filter_map(|row| {
                let num = |f: &str| Reflect::get(row, &f.into()).ok()?.as_f64();
                Some(SnapshotInfo {
                    id: Reflect::get(row, &"id".into()).ok()?.as_string()?,
                    created_at_ms: num("created_at_ms")? as u64,
                    records: num("records")? as usize,
                    bytes: num("bytes")? as usize,
                    automatic: Reflect::get(row, &"automatic".into())
                        .ok()?
                        .as_bool()
                        .unwrap_or(false),
                })
            })
            .collect();
        list.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then(b.id.cmp(&a.id)));
        Ok(list)
    }

    /// The snapshot `id`, read and validated as a backup.
    pub async fn snapshot_backup(&self, id: &str) -> Result<Validated, StoreError> {
        let db = idb(self)?;
        let row = db.get(SNAPSHOTS, JsValue::from_str(id)).await?;
        let corrupt = |reason: String| StoreError::Corrupt {
            collection: SNAPSHOTS.into(),
            id: id.into(),
            reason,
        };
        let row = row.ok_or_else(|| corrupt("there is no such snapshot".into()))?;
        let blob: web_sys::Blob = Reflect::get(&row, &"data".into())
            .ok()
            .and_then(|b| b.dyn_into().ok())
            .ok_or_else(|| corrupt("it holds no data".into()))?;
        let text = JsFuture::from(blob.text())
            .await
            .ok()
            .and_then(|t| t.as_string())
            .ok_or_else(|| corrupt("its data cannot be read".into()))?;
        backup::parse(&text, now_ms()).map_err(|e| corrupt(e.to_string()))
    }

    /// The dry run of restoring snapshot `id`: "Replace all" over every collection it or
    /// the device has.
    pub async fn plan_snapshot_restore(&self, id: &str) -> Result<Plan, StoreError> {
        let mut validated = self.snapshot_backup(id).await?;
        let local = self.local_state().await?;
        let collections = &mut validated.backup.collections;
        collections.extend(local.records.keys().map(|k| k.collection.clone()));
        collections.sort();
        collections.dedup();
        Ok(backup::plan(
            &validated,
            &local.records,
            &local.pending,
            ImportMode::Replace,
        ))
    }

    /// Deletes snapshot `id`.
    pub async fn delete_snapshot(&self, id: &str) -> Result<(), StoreError> {
        let db = idb(self)?;
        db.delete(SNAPSHOTS, JsValue::from_str(id)).await
    }

    /// Deletes all but the newest `keep` snapshots.
    pub async fn prune_snapshots(&self, keep: usize) -> Result<(), StoreError> {
        for old in self.snapshots().await?.iter().skip(keep) {
            self.delete_snapshot(&old.id).await?;
        }
        Ok(())
    }

    /// Page-visible time counted towards the next automatic snapshot, in ms.
    pub async fn snapshot_use_ms(&self) -> Result<u64, StoreError> {
        Ok(self.meta::<u64>(META_SNAPSHOT_USE_MS).await?.unwrap_or(0))
    }

    pub async fn set_snapshot_use_ms(&self, ms: u64) -> Result<(), StoreError> {
        self.set_meta(META_SNAPSHOT_USE_MS, Some(&ms)).await
    }
}

/// The IndexedDB database snapshots are kept in; a memory store has none.
fn idb(store: &Store) -> Result<&Idb, StoreError> {
    store
        .indexed_db()
        .map_err(|reason| StoreError::Unavailable(format!("snapshots need IndexedDB ({reason})")))
}
