//! Export, import and clearing through the store. The file format, its validation and
//! the dry-run plan are pure and live in [`cairn_protocol::backup`]; this module reads
//! what a plan needs and writes what it decides.
//!
//! - **Export** ([`Store::export`]): every record (tombstones included) of the chosen
//!   collections.
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

use cairn_protocol::backup::{self, Backup, ImportMode, LocalChange, Plan, Validated};
use cairn_protocol::{Record, RecordKey};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::codec::now_ms;
use crate::store::Store;
use crate::StoreError;

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
