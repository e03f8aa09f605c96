//! Binary attachments (the images of notes), kept as `Blob`s in the `blobs` object store.
//!
//! Blobs are local only: they are never queued in the outbox nor synced. A record that
//! refers to one (a note's `images`) syncs; on another device the blob is simply missing,
//! and the UI says so. IndexedDB stores `Blob` objects as they are (structured clone), so
//! nothing is encoded here and the bytes and MIME type come back unchanged.
//!
//! A row is `{id, name, type, size, blob, stored_at_ms}`, keyed by `id`.

use rexie::TransactionMode;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

use crate::codec::{now_ms, random_u64, string_field};
use crate::schema::BLOBS;
use crate::store::{commit, Backend, Store};
use crate::StoreError;

/// A stored binary attachment.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBlob {
    pub id: String,
    /// The file name it was added with (for alt text and captions).
    pub name: String,
    /// Its MIME type, e.g. `image/png` (the blob's own `type`).
    pub mime: String,
    /// Its size in bytes.
    pub size: f64,
    pub blob: Blob,
}

/// A new random id (16 hex digits) for a blob or a record.
pub fn random_id() -> Result<String, StoreError> {
    Ok(format!("{:016x}", random_u64()?))
}

impl Store {
    /// Stores `blob` under `id` (replacing what was there), with the file `name`.
    /// Resolves once the transaction committed.
    pub async fn put_blob(
        &self,
        id: &str,
        name: &str,
        blob: &Blob,
    ) -> Result<StoredBlob, StoreError> {
        let stored = StoredBlob {
            id: id.to_owned(),
            name: name.to_owned(),
            mime: blob.type_(),
            size: blob.size(),
            blob: blob.clone(),
        };
        let db = match &self.backend {
            Backend::Memory(_, mem) => {
                mem.borrow_mut().blobs.insert(id.to_owned(), stored.clone());
                return Ok(stored);
            }
            Backend::Idb(db, _) => db,
        };
        let row = blob_row(&stored)?;
        let tx = db.transaction(&[BLOBS], TransactionMode::ReadWrite)?;
        tx.store(BLOBS)?.put(&row, None).await?;
        commit(tx).await.map_err(|_| {
            StoreError::Storage(
                "the image could not be stored (the device may be out of space)".into(),
            )
        })?;
        Ok(stored)
    }

    /// The blob stored under `id`, if this device has it.
    pub async fn get_blob(&self, id: &str) -> Result<Option<StoredBlob>, StoreError> {
        let db = match &self.backend {
            Backend::Memory(_, mem) => return Ok(mem.borrow().blobs.get(id).cloned()),
            Backend::Idb(db, _) => db,
        };
        let tx = db.transaction(&[BLOBS], TransactionMode::ReadOnly)?;
        let Some(row) = tx.store(BLOBS)?.get(JsValue::from_str(id)).await? else {
            return Ok(None);
        };
        let corrupt = |reason: &str| StoreError::Corrupt {
            collection: BLOBS.into(),
            id: id.into(),
            reason: reason.into(),
        };
        let blob = js_sys::Reflect::get(&row, &JsValue::from_str("blob"))
            .ok()
            .and_then(|b| b.dyn_into::<Blob>().ok())
            .ok_or_else(|| corrupt("the row has no blob"))?;
        Ok(Some(StoredBlob {
            id: id.to_owned(),
            name: string_field(&row, "name").unwrap_or_default(),
            mime: blob.type_(),
            size: blob.size(),
            blob,
        }))
    }

    /// Deletes the blob stored under `id` (nothing happens if there is none).
    pub async fn delete_blob(&self, id: &str) -> Result<(), StoreError> {
        let db = match &self.backend {
            Backend::Memory(_, mem) => {
                mem.borrow_mut().blobs.remove(id);
                return Ok(());
            }
            Backend::Idb(db, _) => db,
        };
        let tx = db.transaction(&[BLOBS], TransactionMode::ReadWrite)?;
        tx.store(BLOBS)?.delete(JsValue::from_str(id)).await?;
        commit(tx).await
    }

    /// The ids of every stored blob.
    pub async fn blob_ids(&self) -> Result<Vec<String>, StoreError> {
        let db = match &self.backend {
            Backend::Memory(_, mem) => return Ok(mem.borrow().blobs.keys().cloned().collect()),
            Backend::Idb(db, _) => db,
        };
        let tx = db.transaction(&[BLOBS], TransactionMode::ReadOnly)?;
        let keys = tx.store(BLOBS)?.get_all_keys(None, None).await?;
        Ok(keys.iter().filter_map(|k| k.as_string()).collect())
    }
}

fn blob_row(stored: &StoredBlob) -> Result<JsValue, StoreError> {
    let row = js_sys::Object::new();
    for (field, value) in [
        ("id", JsValue::from_str(&stored.id)),
        ("name", JsValue::from_str(&stored.name)),
        ("type", JsValue::from_str(&stored.mime)),
        ("size", JsValue::from(stored.size)),
        ("stored_at_ms", JsValue::from(now_ms() as f64)),
        ("blob", stored.blob.clone().into()),
    ] {
        js_sys::Reflect::set(&row, &field.into(), &value)
            .map_err(|e| StoreError::Encode(format!("{e:?}")))?;
    }
    Ok(row.into())
}
