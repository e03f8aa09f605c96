//! Binary attachments (the images of notes), kept as `Blob`s in the `blobs` object store
//! and synced with the records that name them.
//!
//! A blob is content addressed: its id is its *hash*, the SHA-256 of its bytes as 64
//! lowercase hex digits ([`hash_blob`], Web Crypto's `digest`), so adding the same bytes
//! twice is one row. A record names the blobs it uses in the top-level `blobs` array of
//! its value ([`cairn_protocol::blobs::referenced`]).
//!
//! A blob added on this device carries an **upload mark** (a row of the `uploads` store,
//! keyed by the hash, written in the same transaction as the blob row) until the sync
//! round's upload phase has put it on the server; a local change naming a marked blob is
//! held back from the push meanwhile ([`Store::held_back`]), so no device ever pulls a
//! record whose blob the server lacks. A blob fetched from the server
//! ([`crate::SyncEngine::fetch_blob`]) is stored without a mark.
//! [`Store::put_record_with_blobs`] writes blob rows, their marks, the record and its
//! outbox entry in one transaction.
//!
//! A row is `{id, name, type, size, blob, stored_at_ms}`, keyed by `id`. IndexedDB stores
//! `Blob` objects as they are (structured clone), so the bytes and MIME type come back
//! unchanged. Rows written before content addressing (random 16-digit ids, named by a
//! note's `images` but not by a `blobs` list) stay as they were: local only, never marked,
//! and never freed by [`Store::release_unreferenced_blobs`].
//!
//! The decisions (which changes wait, which rows may be freed, which blobs a new epoch
//! uploads again) are plain functions in [`plan`], on hashes.

use std::collections::BTreeSet;

use cairn_protocol::blobs::is_hash;
use cairn_protocol::{Record, RecordKey};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use crate::codec::random_u64;
use crate::store::Store;
use crate::StoreError;

/// A stored binary attachment.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBlob {
    /// Its hash (the SHA-256 of its bytes, 64 lowercase hex digits); a row stored before
    /// content addressing keeps its random id.
    pub id: String,
    /// The file name it was added with (for alt text and captions); empty for a blob
    /// fetched from the server.
    pub name: String,
    /// Its MIME type, e.g. `image/png` (the blob's own `type`).
    pub mime: String,
    /// Its size in bytes.
    pub size: f64,
    pub blob: Blob,
}

impl StoredBlob {
    /// `blob` with the file `name`, named by its hash ([`hash_blob`]); nothing stored
    /// yet. Pass it to [`Store::put_record_with_blobs`], and its `id` in the value's
    /// `blobs`.
    pub async fn from_blob(name: &str, blob: &Blob) -> Result<StoredBlob, StoreError> {
        let hash = hash_blob(blob).await?;
        Ok(StoredBlob::new(&hash, name.to_owned(), blob.clone()))
    }

    pub(crate) fn new(id: &str, name: String, blob: Blob) -> StoredBlob {
        StoredBlob {
            id: id.to_owned(),
            name,
            mime: blob.type_(),
            size: blob.size(),
            blob,
        }
    }
}

/// What [`Store::release_unreferenced_blobs`] freed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Released {
    /// Blob rows deleted.
    pub count: usize,
    /// Their bytes.
    pub bytes: f64,
}

/// A new random id (16 hex digits) for a record.
pub fn random_id() -> Result<String, StoreError> {
    Ok(format!("{:016x}", random_u64()?))
}

/// The hash of `blob`'s bytes: their SHA-256 (Web Crypto `digest`, in a page or a
/// worker) as 64 lowercase hex digits.
pub async fn hash_blob(blob: &Blob) -> Result<String, StoreError> {
    let unavailable = |what: &str, e: JsValue| StoreError::Unavailable(format!("{what}: {e:?}"));
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| unavailable("the file could not be read", e))?;
    let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .and_then(|c| c.dyn_into::<web_sys::Crypto>().ok())
        .ok_or_else(|| StoreError::Unavailable("the Web Crypto API is missing".into()))?;
    let digest = crypto
        .subtle()
        .digest_with_str_and_buffer_source("SHA-256", buffer.unchecked_ref())
        .map_err(|e| unavailable("crypto.subtle.digest failed", e))?;
    let digest = JsFuture::from(digest)
        .await
        .map_err(|e| unavailable("crypto.subtle.digest failed", e))?;
    Ok(hex(&js_sys::Uint8Array::new(&digest).to_vec()))
}

/// `bytes` as lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The blobs a stored record's value (a JS value) names: the hashes of its top-level
/// `blobs` array, each once, in order, as [`cairn_protocol::blobs::referenced`] reads
/// them. A tombstone names none.
pub(crate) fn js_referenced(value: &JsValue, deleted: bool) -> Vec<String> {
    let mut hashes: Vec<String> = Vec::new();
    if deleted || !value.is_object() {
        return hashes;
    }
    let Ok(list) = js_sys::Reflect::get(value, &JsValue::from_str(cairn_protocol::blobs::FIELD))
    else {
        return hashes;
    };
    let Some(list) = list.dyn_ref::<js_sys::Array>() else {
        return hashes;
    };
    for hash in list.iter().filter_map(|h| h.as_string()) {
        if is_hash(&hash) && !hashes.contains(&hash) {
            hashes.push(hash);
        }
    }
    hashes
}

/// The blobs a stored record row (`{value, deleted, …}`) names.
pub(crate) fn row_referenced(row: &JsValue) -> Vec<String> {
    let value = js_sys::Reflect::get(row, &JsValue::from_str("value")).unwrap_or_default();
    let deleted = js_sys::Reflect::get(row, &JsValue::from_str("deleted"))
        .ok()
        .and_then(|d| d.as_bool())
        .unwrap_or(false);
    js_referenced(&value, deleted)
}

/// The decisions about blobs, on hashes: plain functions, tested natively.
pub mod plan {
    use std::collections::BTreeSet;

    /// Whether a change naming `referenced` waits for an upload: it names a blob still
    /// marked for upload here.
    pub fn holds_back(referenced: &[String], marked: &BTreeSet<String>) -> bool {
        referenced.iter().any(|h| marked.contains(h))
    }

    /// Which of the local blob rows `local` may be freed: content-addressed rows (ids
    /// that are hashes) that no live record names (`referenced`). A row still marked for
    /// upload goes too, with its mark: only a record naming it could need it on the
    /// server, and a record names only blobs uploaded before it. Rows from before
    /// content addressing are kept (the app frees them by id).
    pub fn releasable<'a>(
        local: impl IntoIterator<Item = &'a str>,
        referenced: &BTreeSet<String>,
    ) -> Vec<String> {
        local
            .into_iter()
            .filter(|id| cairn_protocol::blobs::is_hash(id) && !referenced.contains(*id))
            .map(str::to_owned)
            .collect()
    }

    /// Which blobs to mark for upload again when the server may lack them (a new epoch,
    /// another account): every local blob (`local`) that a live record names
    /// (`referenced`), in hash order.
    pub fn remark<'a>(
        local: impl IntoIterator<Item = &'a str>,
        referenced: &BTreeSet<String>,
    ) -> Vec<String> {
        let mut out: Vec<String> = local
            .into_iter()
            .filter(|id| referenced.contains(*id))
            .map(str::to_owned)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The hashes `blobs` (as given to a write) that `referenced` (what the written value
    /// names) leaves out.
    pub fn unnamed<'a>(
        blobs: impl IntoIterator<Item = &'a str>,
        referenced: &[String],
    ) -> Vec<String> {
        blobs
            .into_iter()
            .filter(|h| !referenced.iter().any(|r| r == h))
            .map(str::to_owned)
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const A: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        const B: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";
        const C: &str = "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13";

        fn set(hashes: &[&str]) -> BTreeSet<String> {
            hashes.iter().map(|h| h.to_string()).collect()
        }

        #[test]
        fn a_change_waits_while_any_blob_it_names_is_marked() {
            let marked = set(&[A]);
            assert!(holds_back(&[B.into(), A.into()], &marked));
            assert!(!holds_back(&[B.into()], &marked));
            assert!(!holds_back(&[], &marked));
            assert!(!holds_back(&[A.into()], &set(&[])));
        }

        #[test]
        fn only_unnamed_content_addressed_rows_are_released() {
            let local = [A, B, C, "0123456789abcdef"];
            let released = releasable(local, &set(&[A]));
            assert_eq!(released, vec![B.to_owned(), C.to_owned()]);
            // A legacy random id is never released, even unnamed.
            assert!(releasable(["0123456789abcdef"], &set(&[])).is_empty());
        }

        #[test]
        fn a_new_epoch_remarks_the_local_blobs_records_name() {
            assert_eq!(
                remark([C, A, "legacy", B, A], &set(&[A, C, "other"])),
                vec![A.to_owned(), C.to_owned()]
            );
        }

        #[test]
        fn blobs_written_but_not_named_are_found() {
            assert_eq!(unnamed([A, B], &[A.to_owned()]), vec![B.to_owned()]);
            assert!(unnamed([A], &[A.to_owned(), B.to_owned()]).is_empty());
        }
    }
}

impl Store {
    /// Stores `blob` with the file `name` under its hash, marked for upload, in one
    /// transaction (the same bytes again replace the row: one row). Resolves once
    /// committed. For a blob a record names, [`Store::put_record_with_blobs`] stores both
    /// at once.
    pub async fn put_blob(&self, name: &str, blob: &Blob) -> Result<StoredBlob, StoreError> {
        let stored = StoredBlob::from_blob(name, blob).await?;
        self.backend
            .put_blobs(std::slice::from_ref(&stored), true)
            .await?;
        Ok(stored)
    }

    /// Stores `blob` under `hash` without an upload mark: a blob that came from the
    /// server.
    pub(crate) async fn put_fetched_blob(
        &self,
        hash: &str,
        blob: &Blob,
    ) -> Result<StoredBlob, StoreError> {
        let stored = StoredBlob::new(hash, String::new(), blob.clone());
        self.backend
            .put_blobs(std::slice::from_ref(&stored), false)
            .await?;
        Ok(stored)
    }

    /// Writes `value` at `key` as a local change together with `blobs` (made by
    /// [`StoredBlob::from_blob`]): the blob rows, their upload marks, the record and its
    /// outbox entry in ONE transaction — all stored, or none. Every blob must be named
    /// in the value's top-level `blobs` array (else nothing is stored and the error says
    /// which is not); the change is pushed once they are uploaded.
    pub async fn put_record_with_blobs(
        &self,
        key: RecordKey,
        value: serde_json::Value,
        blobs: &[StoredBlob],
    ) -> Result<Record, StoreError> {
        let named = cairn_protocol::blobs::referenced(&value);
        let missing = plan::unnamed(blobs.iter().map(|b| b.id.as_str()), &named);
        if let Some(hash) = missing.first() {
            return Err(StoreError::Encode(format!(
                "the value of {}/{} does not name the image {} in its \"blobs\"",
                key.collection,
                key.id,
                cairn_protocol::blobs::short(hash)
            )));
        }
        let change = cairn_protocol::backup::LocalChange::Put(key, value);
        let mut written = self
            .commit_local_with_blobs(vec![change], blobs.to_vec())
            .await?;
        Ok(written.remove(0).0)
    }

    /// The blob stored under `id` (its hash), if this device has it.
    pub async fn get_blob(&self, id: &str) -> Result<Option<StoredBlob>, StoreError> {
        let stored = self.backend.blob(id).await?;
        Ok(stored.map(|(name, blob)| StoredBlob::new(id, name, blob)))
    }

    /// Deletes the blob stored under `id` and its upload mark (nothing happens if there
    /// is none). The same bytes may be named by several records:
    /// [`Store::release_unreferenced_blobs`] frees only what nothing names.
    pub async fn delete_blob(&self, id: &str) -> Result<(), StoreError> {
        self.backend.delete_blob(id).await
    }

    /// The ids of every stored blob.
    pub async fn blob_ids(&self) -> Result<Vec<String>, StoreError> {
        self.backend.blob_ids().await
    }

    /// The hashes of the blobs marked for upload (added here, not yet on the server), in
    /// order.
    pub async fn upload_marks(&self) -> Result<Vec<String>, StoreError> {
        self.backend.upload_marks().await
    }

    /// Removes the upload mark of `hash` (the server has it).
    pub(crate) async fn clear_upload_mark(&self, hash: &str) -> Result<(), StoreError> {
        self.backend.clear_upload_mark(hash).await
    }

    /// The keys of the outbox entries held back from the push because their record names
    /// a blob still marked for upload ([`plan::holds_back`]).
    pub async fn held_back(&self) -> Result<Vec<RecordKey>, StoreError> {
        let entries = self.outbox().await?;
        let records = self.records_for(&entries).await?;
        // Read after the records, as the push does (see `sync/push.rs`).
        let marked: BTreeSet<String> = self.upload_marks().await?.into_iter().collect();
        Ok(records
            .into_iter()
            .filter(|(r, _)| plan::holds_back(&js_referenced(&r.value, r.deleted), &marked))
            .map(|(r, _)| r.key())
            .collect())
    }

    /// The bytes of every blob stored on this device.
    pub async fn local_blob_bytes(&self) -> Result<f64, StoreError> {
        Ok(self
            .backend
            .blob_sizes()
            .await?
            .iter()
            .map(|(_, s)| s)
            .sum())
    }

    /// Deletes, in one transaction, the local blob rows that no live local record's
    /// `blobs` names, with their upload marks (rows from before content addressing are
    /// kept). A freed blob that a record names again later is fetched from the server.
    pub async fn release_unreferenced_blobs(&self) -> Result<Released, StoreError> {
        self.backend.release_unreferenced_blobs().await
    }
}
