//! How much the app stores: per collection (records, bytes) from the store, and the
//! browser's view of the origin's usage and quota (`navigator.storage`).

use std::collections::BTreeMap;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{Store, StoreError};

/// One collection's share.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionUsage {
    pub collection: String,
    /// Live records.
    pub records: usize,
    /// Tombstones (deleted records kept so that deletions sync).
    pub deleted: usize,
    /// Size of its records encoded as JSON, tombstones included.
    pub bytes: usize,
}

/// What the store holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// By collection name.
    pub collections: Vec<CollectionUsage>,
    pub total_records: usize,
    pub total_bytes: usize,
    /// Local changes not synced yet.
    pub pending: usize,
}

/// `navigator.storage.estimate()`: bytes the origin uses and may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub usage: f64,
    pub quota: f64,
}

impl Estimate {
    /// Share of the quota in use, 0.0 to 1.0 (0 when the quota is unknown).
    pub fn fraction(&self) -> f64 {
        if self.quota > 0.0 {
            (self.usage / self.quota).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

impl Store {
    /// Records and bytes per collection, and the outbox size.
    pub async fn usage(&self) -> Result<Usage, StoreError> {
        let mut by_name: BTreeMap<String, CollectionUsage> = BTreeMap::new();
        for record in self.all_records().await? {
            let bytes = serde_json::to_vec(&record).map_or(0, |v| v.len());
            let entry =
                by_name
                    .entry(record.collection.clone())
                    .or_insert_with(|| CollectionUsage {
                        collection: record.collection.clone(),
                        ..CollectionUsage::default()
                    });
            if record.deleted {
                entry.deleted += 1;
            } else {
                entry.records += 1;
            }
            entry.bytes += bytes;
        }
        let collections: Vec<CollectionUsage> = by_name.into_values().collect();
        Ok(Usage {
            total_records: collections.iter().map(|c| c.records).sum(),
            total_bytes: collections.iter().map(|c| c.bytes).sum(),
            collections,
            pending: self.pending_count().await?,
        })
    }
}

fn storage_manager() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let storage = Reflect::get(&navigator, &"storage".into()).ok()?;
    (!storage.is_undefined() && !storage.is_null()).then_some(storage)
}

async fn call_storage(method: &str) -> Option<JsValue> {
    let storage = storage_manager()?;
    let f: Function = Reflect::get(&storage, &method.into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: Promise = f.call0(&storage).ok()?.dyn_into().ok()?;
    JsFuture::from(promise).await.ok()
}

/// The browser's estimate of this origin's usage and quota; `None` where the Storage API
/// is missing.
pub async fn storage_estimate() -> Option<Estimate> {
    let estimate = call_storage("estimate").await?;
    let num = |f: &str| Reflect::get(&estimate, &f.into()).ok()?.as_f64();
    Some(Estimate {
        usage: num("usage").unwrap_or(0.0),
        quota: num("quota").unwrap_or(0.0),
    })
}

/// Whether the browser keeps this origin's data under storage pressure
/// (`navigator.storage.persisted()`); `None` where unknown.
pub async fn is_persisted() -> Option<bool> {
    call_storage("persisted").await?.as_bool()
}

/// Asks the browser to keep this origin's data under storage pressure
/// (`navigator.storage.persist()`); the browser decides, and may decide without asking.
pub async fn request_persistence() -> Result<bool, String> {
    call_storage("persist")
        .await
        .and_then(|v| v.as_bool())
        .ok_or_else(|| "this browser cannot be asked to keep data".to_owned())
}
