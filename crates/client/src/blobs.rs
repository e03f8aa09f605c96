//! Binary attachments (the images of notes), kept as `Blob`s in the `blobs` object store.
//!
//! Blobs are local only: they are never queued in the outbox nor synced. A record that
//! refers to one (a note's `images`) syncs; on another device the blob is simply missing,
//! and the UI says so. IndexedDB stores `Blob` objects as they are (structured clone), so
//! nothing is encoded here and the bytes and MIME type come back unchanged.
//!
//! A row is `{id, name, type, size, blob, stored_at_ms}`, keyed by `id` (the store's
//! IndexedDB backend writes it; a memory store keeps the name and the blob).

use web_sys::Blob;

use crate::codec::random_u64;
use crate::store::Store;
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
        self.backend.put_blob(id, name, blob).await?;
        Ok(StoredBlob::new(id, name.to_owned(), blob.clone()))
    }

    /// The blob stored under `id`, if this device has it.
    pub async fn get_blob(&self, id: &str) -> Result<Option<StoredBlob>, StoreError> {
        let stored = self.backend.blob(id).await?;
        Ok(stored.map(|(name, blob)| StoredBlob::new(id, name, blob)))
    }

    /// Deletes the blob stored under `id` (nothing happens if there is none).
    pub async fn delete_blob(&self, id: &str) -> Result<(), StoreError> {
        self.backend.delete_blob(id).await
    }

    /// The ids of every stored blob.
    pub async fn blob_ids(&self) -> Result<Vec<String>, StoreError> {
        self.backend.blob_ids().await
    }
}

impl StoredBlob {
    fn new(id: &str, name: String, blob: Blob) -> StoredBlob {
        StoredBlob {
            id: id.to_owned(),
            name,
            mime: blob.type_(),
            size: blob.size(),
            blob,
        }
    }
}
