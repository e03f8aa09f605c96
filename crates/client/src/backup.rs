//! Export, import and clearing through the store. The file format, its validation and
//! the dry-run plan are pure and live in [`cairn_protocol::backup`]; this module reads
//! what a plan needs and writes what it decides.
//!
//! - **Export** ([`Store::export`]): every record (tombstones included) of the chosen
//!   collections, and nothing else: what a snapshot keeps (its images stay in this
//!   device's blob store). [`Store::export_with_blobs`] adds the images the exported live
//!   records name ([`cairn_protocol::blobs::referenced`]): read here, or fetched from the
//!   server through a [`BlobSource`] (the [`SyncEngine`]) when only the server has them,
//!   with progress; an image that cannot be had is listed in [`Exported::left_out`] with
//!   the reason, never silently dropped.
//! - **Importing images** ([`Store::import_blobs`], before [`Store::import`]): the file's
//!   images this device lacks are stored, marked for upload, so they reach the server
//!   before the records that name them are pushed.
//! - **Merge import** ([`Store::merge_records`]): each record keeps its clock and is
//!   applied by the merge rule in one transaction per batch, with its outbox entry (so it
//!   syncs), the clock moved past it, and a losing unsynced local change logged as a
//!   conflict. A record that lost meanwhile is skipped.
//! - **Replace import** ([`Store::commit_changes`]): the file's values are written as new
//!   local changes and what the file lacks is deleted (tombstones), so the result wins
//!   on every device once synced.
//! - [`Store::import`] applies a plan in batches, reporting progress between them; each
//!   batch is one transaction. A failure part-way leaves whole batches applied; running
//!   the import again completes it (a merge is idempotent).
//! - **Clearing** ([`Store::clear_collections`]) writes a tombstone for every live
//!   record, queued like any delete: other devices clear too, and every outbox entry
//!   still names a stored record of the same clock (nothing points at a deleted row).
//! - Files: [`read_file_text`] reads a file the user chose, [`download_text`] offers a
//!   file to save (a page only: it needs a document).

use std::collections::{BTreeMap, BTreeSet};

use std::future::Future;

use cairn_protocol::backup::{
    self, sha256_hex, Backup, BackupBlob, ImportMode, LocalChange, Plan, Validated,
    MAX_BACKUP_BYTES,
};
use cairn_protocol::blobs::{referenced, short};
use cairn_protocol::{Record, RecordKey};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::codec::now_ms;
use crate::store::Store;
use crate::{StoreError, StoredBlob, SyncEngine};

/// Records written per transaction by [`Store::import`] and [`Store::clear_collections`].
pub const BATCH: usize = 250;

/// What is on the device, as a plan needs it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LocalState {
    /// Every record, tombstones included.
    pub records: BTreeMap<RecordKey, Record>,
    /// Keys with an unsynced local change.
    pub pending: BTreeSet<RecordKey>,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportSummary {
    /// Records written (added, updated or deleted).
    pub written: usize,
    /// Unsynced local changes that lost to the file (now in the conflict log).
    pub conflicts: usize,
    /// Records skipped because the device's version became newer after the dry run.
    pub skipped: usize,
    /// The records now current that changed, for the app to show.
    pub changed: Vec<Record>,
}

/// Where an export gets an image this device does not hold.
pub trait BlobSource {
    /// The blob `hash`, or why it cannot be had (a sentence: "not on the server").
    fn fetch(&self, hash: &str) -> impl Future<Output = Result<StoredBlob, String>>;
}

/// The server, through the session of this engine: the blob is fetched and kept here.
impl BlobSource for SyncEngine<'_> {
    fn fetch(&self, hash: &str) -> impl Future<Output = Result<StoredBlob, String>> {
        fetch_from_server(self, hash.to_owned())
    }
}

/// An image an export could not include, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// The image's hash.
    pub hash: String,
    /// `collection/id` of the first exported record naming it.
    pub record: String,
    /// Why, as a sentence part ("not on this device, and …").
    pub reason: String,
}

impl std::fmt::Display for LeftOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "image {} of {}: {}",
            short(&self.hash),
            self.record,
            self.reason
        )
    }
}

/// What [`Store::export_with_blobs`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// The backup, its images included.
    pub backup: Backup,
    /// Images named by exported records that are not in it, with the reason.
    pub left_out: Vec<LeftOut>,
}

/// What [`Store::import_blobs`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobsImported {
    /// Images stored here (marked for upload).
    pub stored: usize,
    /// Images this device had already.
    pub present: usize,
}

impl Store {
    /// Every stored record, tombstones included, in key order. Rows that do not decode
    /// are left out (loading their collection moves them to the quarantine).
    pub async fn all_records(&self) -> Result<Vec<Record>, StoreError> {
        self.backend.all_records().await
    }

    /// Every record and which keys have unsynced changes.
    pub async fn local_state(&self) -> Result<LocalState, StoreError> {
        let records = self
            .all_records()
            .await?
            .into_iter()
            .map(|r| (r.key(), r))
            .collect();
        let pending = self
            .outbox()
            .await?
            .into_iter()
            .map(|e| RecordKey::new(e.collection, e.id))
            .collect();
        Ok(LocalState { records, pending })
    }

    /// A backup of the collections `only` names (every collection when `None`), secrets
    /// not included. `app_version` goes into the file.
    pub async fn export(
        &self,
        only: Option<&[String]>,
        app_version: &str,
    ) -> Result<Backup, StoreError> {
        let mut records = self.all_records().await?;
        let collections: Vec<String> = match only {
            Some(only) => {
                records.retain(|r| only.contains(&r.collection));
                only.to_vec()
            }
            None => Vec::new(),
        };
        Ok(Backup::new(
            app_version,
            now_ms(),
            self.device_id().as_str(),
            collections,
            records,
        ))
    }

    /// A backup like [`Store::export`]'s, with the images its live records name. Each is
    /// read from this device, or else asked of `source` (the [`SyncEngine`] of a
    /// signed-in page: fetched from the server, and kept); one that cannot be had, or
    /// that would make the file larger than [`MAX_BACKUP_BYTES`], is listed in
    /// [`Exported::left_out`]. `on_progress(done, total)` counts images, once before the
    /// first and after each.
    pub async fn export_with_blobs<S: BlobSource>(
        &self,
        only: Option<&[String]>,
        app_version: &str,
        source: Option<&S>,
        mut on_progress: impl FnMut(usize, usize),
    ) -> Result<Exported, StoreError> {
        let mut backup = self.export(only, app_version).await?;
        let mut wanted: Vec<(String, String)> = Vec::new();
        for record in backup.records.iter().filter(|r| !r.deleted) {
            for hash in referenced(&record.value) {
                if !wanted.iter().any(|(h, _)| *h == hash) {
                    wanted.push((hash, format!("{}/{}", record.collection, record.id)));
                }
            }
        }
        let total = wanted.len();
        on_progress(0, total);
        // Room left in the file for images, their base64 and fields counted.
        let mut room = MAX_BACKUP_BYTES.saturating_sub(
            serde_json::to_string(&backup)
                .map_err(|e| StoreError::Encode(e.to_string()))?
                .len()
                .saturating_mul(2),
        );
        let mut left_out = Vec::new();
        for (done, (hash, record)) in wanted.into_iter().enumerate() {
            let entry =
                blob_bytes_for_export(self, source, &hash)
                    .await
                    .and_then(|(name, mime, bytes)| {
                        let cost = bytes.len().div_ceil(3) * 4 + name.len() + mime.len() + 200;
                        if cost > room {
                            return Err(format!(
                                "the file would be larger than the {} MB a backup may be",
                                MAX_BACKUP_BYTES / (1024 * 1024)
                            ));
                        }
                        room -= cost;
                        Ok(BackupBlob::new(&name, &mime, &bytes))
                    });
            match entry {
                Ok(entry) => backup.blobs.push(entry),
                Err(reason) => left_out.push(LeftOut {
                    hash,
                    record,
                    reason,
                }),
            }
            on_progress(done + 1, total);
        }
        Ok(Exported { backup, left_out })
    }

    /// Stores the images of a file this device lacks, each marked for upload (so they
    /// reach the server before the records naming them are pushed), calling
    /// `on_progress(done, total)` once before the first and after each. Run it before
    /// [`Store::import`] of the same `plan`; refuses a plan that cannot be applied, and
    /// writes nothing then. Running it again after a failure part-way completes it.
    pub async fn import_blobs(
        &self,
        plan: &Plan,
        blobs: &[BackupBlob],
        mut on_progress: impl FnMut(usize, usize),
    ) -> Result<BlobsImported, StoreError> {
        if !plan.can_apply() {
            return Err(StoreError::Encode(format!(
                "the backup has {} invalid record(s); nothing was imported",
                plan.rejected.len()
            )));
        }
        let held: BTreeSet<String> = self.blob_ids().await?.into_iter().collect();
        let mut summary = BlobsImported::default();
        on_progress(0, blobs.len());
        for (done, blob) in blobs.iter().enumerate() {
            if held.contains(&blob.hash) {
                summary.present += 1;
            } else {
                store_imported_blob(self, blob).await?;
                summary.stored += 1;
            }
            on_progress(done + 1, blobs.len());
        }
        Ok(summary)
    }

    /// The dry run: what importing `validated` in `mode` would do here. Writes nothing.
    pub async fn plan_import(
        &self,
        validated: &Validated,
        mode: ImportMode,
    ) -> Result<Plan, StoreError> {
        let local = self.local_state().await?;
        Ok(backup::plan(
            validated,
            &local.records,
            &local.pending,
            mode,
        ))
    }

    /// Applies `plan` in batches of [`BATCH`], calling `on_progress(done, total)` after
    /// each (and once before the first). Refuses a plan with rejected records: nothing is
    /// written then.
    pub async fn import(
        &self,
        plan: &Plan,
        mut on_progress: impl FnMut(usize, usize),
    ) -> Result<ImportSummary, StoreError> {
        if !plan.can_apply() {
            return Err(StoreError::Encode(format!(
                "the backup has {} invalid record(s); nothing was imported",
                plan.rejected.len()
            )));
        }
        let mut summary = ImportSummary::default();
        match plan.mode {
            ImportMode::Merge => {
                let writes = backup::merge_writes(plan);
                self.mark_named_blobs(writes.iter().filter(|r| !r.deleted).map(|r| &r.value))
                    .await?;
                let total = writes.len();
                on_progress(0, total);
                for (n, batch) in writes.chunks(BATCH).enumerate() {
                    let merged = self.merge_records(batch).await?;
                    summary.written += merged.changed.len();
                    summary.conflicts += merged.conflicts;
                    summary.skipped += batch.len() - merged.changed.len();
                    summary.changed.extend(merged.changed);
                    on_progress((n * BATCH + batch.len()).min(total), total);
                    crate::global::sleep_ms(0).await;
                }
            }
            ImportMode::Replace => {
                let changes = backup::replace_changes(plan);
                self.mark_named_blobs(changes.iter().filter_map(|c| match c {
                    LocalChange::Put(_, value) => Some(value),
                    LocalChange::Delete(_) => None,
                }))
                .await?;
                let total = changes.len();
                on_progress(0, total);
                for (n, batch) in changes.chunks(BATCH).enumerate() {
                    let written = self.commit_changes(batch.to_vec()).await?;
                    summary.written += written.len();
                    summary.changed.extend(written);
                    on_progress((n * BATCH + batch.len()).min(total), total);
                    crate::global::sleep_ms(0).await;
                }
            }
        }
        Ok(summary)
    }

    /// Marks for upload, before an import writes records naming them, the local blobs
    /// those `values` name: a file (or a snapshot, which keeps no image bytes) may name
    /// images this device holds but the account's server lacks — after starting another
    /// account empty, say. Uploading one the server holds costs its bytes and changes
    /// nothing; a record is never pushed before its images.
    async fn mark_named_blobs<'v>(
        &self,
        values: impl Iterator<Item = &'v serde_json::Value>,
    ) -> Result<(), StoreError> {
        let named: BTreeSet<String> = values.flat_map(referenced).collect();
        let mut local = Vec::new();
        for hash in named {
            if let Some(blob) = self.get_blob(&hash).await? {
                local.push(blob);
            }
        }
        if !local.is_empty() {
            self.backend.put_blobs(&local, true).await?;
        }
        Ok(())
    }

    /// Applies records from a backup by the merge rule, keeping their clocks, in one
    /// transaction: each one that wins is stored and queued for sync; a losing unsynced
    /// local change goes to the conflict log; the clock moves past every record. (The
    /// same path as records pulled by sync, see [`Store::apply_and_queue`].)
    pub async fn merge_records(&self, incoming: &[Record]) -> Result<Merged, StoreError> {
        let applied = self.apply_and_queue(incoming).await?;
        Ok(Merged {
            changed: applied.changed,
            conflicts: applied.conflicts,
        })
    }

    /// Deletes every live record of `collections` as local changes (tombstones, queued
    /// for sync, so other devices clear them too), in batches of [`BATCH`]. Returns the
    /// tombstones written.
    pub async fn clear_collections(
        &self,
        collections: &[String],
    ) -> Result<Vec<Record>, StoreError> {
        let mut keys = Vec::new();
        for collection in collections {
            let loaded = self.load_collection(collection).await?;
            keys.extend(
                loaded
                    .records
                    .into_iter()
                    .filter(|r| !r.deleted)
                    .map(|r| r.key()),
            );
        }
        let mut written = Vec::with_capacity(keys.len());
        for batch in keys.chunks(BATCH) {
            let changes = batch.iter().cloned().map(LocalChange::Delete).collect();
            written.extend(self.commit_changes(changes).await?);
        }
        Ok(written)
    }
}

/// What [`Store::merge_records`] did with one batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Merged {
    /// Records stored (each queued for sync).
    pub changed: Vec<Record>,
    /// Unsynced local changes that lost and went to the conflict log.
    pub conflicts: usize,
}

/// The name, type and bytes of the blob `hash` for an export: this device's copy, or
/// `source`'s; checked against the hash. Integration point with the blob store: the
/// only place an export reads a blob.
async fn blob_bytes_for_export<S: BlobSource>(
    store: &Store,
    source: Option<&S>,
    hash: &str,
) -> Result<(String, String, Vec<u8>), String> {
    let local = store
        .get_blob(hash)
        .await
        .map_err(|e| format!("this device could not read it: {e}"))?;
    let stored = match (local, source) {
        (Some(stored), _) => stored,
        (None, Some(source)) => source
            .fetch(hash)
            .await
            .map_err(|e| format!("not on this device, and not from the server: {e}"))?,
        (None, None) => {
            return Err("not on this device (sign in to fetch it from the server)".into())
        }
    };
    let bytes = blob_bytes(&stored.blob).await?;
    if sha256_hex(&bytes) != hash {
        return Err("the copy here is damaged (its bytes do not match its hash)".into());
    }
    Ok((stored.name, stored.mime, bytes))
}

/// Stores an image of an imported file here, marked for upload. Integration point with
/// the blob store: the only place an import writes a blob.
async fn store_imported_blob(store: &Store, blob: &BackupBlob) -> Result<(), StoreError> {
    let bytes = blob.bytes().map_err(StoreError::Encode)?;
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&blob.mime);
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
    let js_blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| StoreError::Encode(format!("the image could not be made: {e:?}")))?;
    // Stored under the hash of its bytes, marked for upload: the server gets it before
    // the records that name it.
    let stored = store.put_blob(&blob.name, &js_blob).await?;
    if stored.id != blob.hash {
        return Err(StoreError::Encode(format!(
            "the image {} was stored as {}: its bytes do not match its hash",
            cairn_protocol::blobs::short(&blob.hash),
            cairn_protocol::blobs::short(&stored.id)
        )));
    }
    Ok(())
}

/// Gets `hash` from the server through `engine`'s session (kept here).
async fn fetch_from_server(engine: &SyncEngine<'_>, hash: String) -> Result<StoredBlob, String> {
    engine.fetch_blob(&hash).await.map_err(|e| e.to_string())
}

/// The bytes of `blob`.
async fn blob_bytes(blob: &web_sys::Blob) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| format!("its bytes could not be read: {e:?}"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// The text of `file`, a `File` (or any `Blob`) the user chose.
pub async fn read_file_text(file: &JsValue) -> Result<String, String> {
    let blob = file
        .dyn_ref::<web_sys::Blob>()
        .ok_or_else(|| "no file was chosen".to_owned())?;
    JsFuture::from(blob.text())
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| "the file could not be read as text".to_owned())
}

/// Offers `text` to the user as a file named `file_name`: a Blob, an object URL and a
/// click on a temporary `<a download>`. Needs a page (a document).
pub fn download_text(file_name: &str, mime_type: &str, text: &str) -> Result<(), String> {
    let fail = |e: JsValue| format!("the download could not start: {e:?}");
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime_type);
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(fail)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| "there is no document to download from".to_owned())?;
    let link: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(fail)?.unchecked_into();
    link.set_href(&url);
    link.set_download(file_name);
    link.set_attribute("hidden", "").map_err(fail)?;
    let body = document
        .body()
        .ok_or_else(|| "the page has no body".to_owned())?;
    body.append_child(&link).map_err(fail)?;
    link.click();
    link.remove();
    // The click has started the download; the URL may go once the event loop turns.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000);
    }
    Ok(())
}
