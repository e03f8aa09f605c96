//! The store's one interface over its two backends: each method is a storage operation
//! (one transaction), done by [`Idb`] or [`Memory`], and the only place in the crate that
//! tells them apart.

use std::cell::RefCell;

use cairn_protocol::{Hlc, HlcClock, Record, RecordKey};
use wasm_bindgen::JsValue;
use web_sys::Blob;

use super::idb::Idb;
use super::memory::Memory;
use super::{
    Batch, ConflictEntry, Held, Loaded, MadeFromBase, OutboxEntry, Quarantined, StampedWrite, Step,
};
use crate::blobs::Released;
use crate::js_record::JsRecord;
use crate::StoreError;
use crate::StoredBlob;

/// Where the store keeps its rows: IndexedDB or memory. Its methods are the store's
/// storage operations, each one transaction, and the only place that tells the two
/// apart.
pub(crate) struct Backend(Kind);

enum Kind {
    Idb(Idb),
    Memory(Memory),
}

impl Backend {
    pub(super) fn idb(idb: Idb) -> Backend {
        Backend(Kind::Idb(idb))
    }

    /// A memory backend, for when IndexedDB could not be used (`reason` says why).
    pub(super) fn memory(reason: String) -> Backend {
        Backend(Kind::Memory(Memory::new(reason)))
    }

    /// The IndexedDB database, or why there is none.
    pub(super) fn indexed_db(&self) -> Result<&Idb, &str> {
        match &self.0 {
            Kind::Idb(idb) => Ok(idb),
            Kind::Memory(memory) => Err(&memory.reason),
        }
    }

    /// Why IndexedDB could not be used, for a memory store.
    pub(super) fn memory_reason(&self) -> Option<&str> {
        self.indexed_db().err()
    }

    pub(super) fn close(self) {
        if let Kind::Idb(idb) = self.0 {
            idb.close();
        }
    }

    /// The raw value at `key` of `meta`.
    pub(crate) async fn meta(&self, key: &'static str) -> Result<Option<JsValue>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.meta(key).await,
            Kind::Memory(memory) => Ok(memory.meta(key)),
        }
    }

    /// Sets (`Some`) or clears (`None`) the value at `key` of `meta`.
    pub(crate) async fn set_meta(
        &self,
        key: &'static str,
        value: Option<JsValue>,
    ) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.set_meta(key, value).await,
            Kind::Memory(memory) => {
                memory.set_meta(key, value);
                Ok(())
            }
        }
    }

    /// Brings the device's clock (stored, and `clock`) back within the drift limit of
    /// `server_time_ms` ([`HlcClock::limit_to`]), in one transaction.
    pub(super) async fn limit_clock(
        &self,
        clock: &RefCell<HlcClock>,
        server_time_ms: u64,
    ) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.limit_clock(clock, server_time_ms).await,
            Kind::Memory(_) => {
                clock.borrow_mut().limit_to(server_time_ms);
                Ok(())
            }
        }
    }

    pub(super) async fn record(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.record(key).await,
            Kind::Memory(memory) => memory.record(key),
        }
    }

    /// The records at `keys`, in order, each with its row as stored (a copy, the
    /// caller's to change), and then the upload marks, read in one transaction.
    pub(crate) async fn records_and_marks(
        &self,
        keys: &[RecordKey],
    ) -> Result<super::RowsAndMarks, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.records_and_marks(keys).await,
            Kind::Memory(memory) => memory.records_and_marks(keys),
        }
    }

    /// Every record, tombstones included, in key order; rows that do not decode are left
    /// out.
    pub(crate) async fn all_records(&self) -> Result<Vec<Record>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.all_records().await,
            Kind::Memory(memory) => memory.all_records(),
        }
    }

    pub(super) async fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.put_record(record).await,
            Kind::Memory(memory) => memory.put_record(record),
        }
    }

    pub(super) async fn load_collection(&self, collection: &str) -> Result<Loaded, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.load_collection(collection).await,
            Kind::Memory(memory) => memory.load_collection(collection),
        }
    }

    /// One page of the `order_key` index ([`crate::ordered`]).
    pub(crate) async fn ordered_page(
        &self,
        query: &crate::ordered::Query<'_>,
    ) -> Result<crate::OrderedPage, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.ordered_page(query).await,
            Kind::Memory(memory) => memory.ordered_page(query),
        }
    }

    pub(super) async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.quarantined().await,
            // Memory holds only what was decoded.
            Kind::Memory(_) => Ok(Vec::new()),
        }
    }

    pub(super) async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.outbox().await,
            Kind::Memory(memory) => Ok(memory.outbox()),
        }
    }

    pub(crate) async fn outbox_len(&self) -> Result<usize, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.outbox_len().await,
            Kind::Memory(memory) => Ok(memory.outbox_len()),
        }
    }

    /// Makes local changes of `keys`, in one transaction: reads what each record's change
    /// is made from ([`super::MadeFrom::for_change`]) and the device's stored clock, calls
    /// `stamp` with that clock, then stores the stamped records, their outbox entries,
    /// the clock and the conflict entry, and removes the records' set-aside changes; with
    /// them, `blobs` (rows and upload marks).
    /// Returns each record with the base it will be pushed with.
    pub(super) async fn commit_local(
        &self,
        keys: Vec<RecordKey>,
        blobs: Vec<StoredBlob>,
        stamp: impl FnOnce(Option<Hlc>) -> Result<StampedWrite, StoreError> + 'static,
    ) -> Result<Vec<MadeFromBase>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.commit_local(keys, blobs, stamp).await,
            Kind::Memory(memory) => memory.commit_local(&keys, blobs, stamp),
        }
    }

    /// Applies `batch` in one transaction: calls `witness` with the device's stored
    /// clock; removes the outbox entries of its acknowledged records whose clock is
    /// unchanged (an entry changed again meanwhile is made after it); stores what `step`
    /// decides for each incoming record from what the device holds of it (later records
    /// of one key see what earlier ones did); then stores `clock` and the batch's cursor.
    pub(crate) async fn apply(
        &self,
        batch: Batch<'_>,
        clock: &RefCell<HlcClock>,
        witness: impl FnOnce(Option<Hlc>) -> Result<(), StoreError>,
        step: impl FnMut(Held<'_>, &JsRecord) -> Result<Step, StoreError>,
    ) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.apply(batch, clock, witness, step).await,
            // This context's clock is the only one: there is none stored.
            Kind::Memory(memory) => memory.apply(batch, witness, step),
        }
    }

    /// Queues every stored record as a replay and marks for upload every local blob a
    /// live record names (one transaction); returns how many records.
    pub(crate) async fn queue_everything(&self) -> Result<usize, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.queue_everything().await,
            Kind::Memory(memory) => Ok(memory.queue_everything()),
        }
    }

    pub(crate) async fn log_conflict(&self, conflict: ConflictEntry) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.log_conflict(&conflict.row).await,
            Kind::Memory(memory) => {
                memory.log_conflict(conflict.lost, conflict.row);
                Ok(())
            }
        }
    }

    /// Every conflict-log row.
    pub(crate) async fn conflict_rows(&self) -> Result<Vec<JsValue>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.conflict_rows().await,
            Kind::Memory(memory) => Ok(memory.conflict_rows()),
        }
    }

    /// Removes the conflict logged under `lost` (the record, the lost version's clock).
    pub(crate) async fn delete_conflict(&self, lost: &(RecordKey, Hlc)) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.delete_conflict(lost).await,
            Kind::Memory(memory) => {
                memory.delete_conflict(lost);
                Ok(())
            }
        }
    }

    /// Every set-aside row.
    pub(crate) async fn set_aside_rows(&self) -> Result<Vec<JsValue>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.set_aside_rows().await,
            Kind::Memory(memory) => Ok(memory.set_aside_rows()),
        }
    }

    /// Moves each of `refused` whose outbox entry still has its clock from the outbox to
    /// the set-aside list, as the row `row` makes of it, in one transaction. Returns how
    /// many moved.
    pub(crate) async fn set_aside_refused(
        &self,
        refused: &[(JsRecord, String)],
        row: impl Fn(&JsRecord, &str, OutboxEntry) -> Result<JsValue, StoreError>,
    ) -> Result<usize, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.set_aside_refused(refused, row).await,
            Kind::Memory(memory) => memory.set_aside_refused(refused, row),
        }
    }

    pub(crate) async fn delete_set_aside(&self, key: &RecordKey) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.delete_set_aside(key).await,
            Kind::Memory(memory) => {
                memory.delete_set_aside(key);
                Ok(())
            }
        }
    }

    /// Removes every record, outbox entry, conflict, set-aside change and upload mark
    /// (one transaction), queuing nothing. Blob rows stay (a snapshot may name them).
    pub(crate) async fn clear_local_data(&self) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.clear_local_data().await,
            Kind::Memory(memory) => {
                memory.clear_local_data();
                Ok(())
            }
        }
    }

    /// Stores each of `blobs` under its id (replacing what was there), with an upload
    /// mark when `marked`, in one transaction.
    pub(crate) async fn put_blobs(
        &self,
        blobs: &[StoredBlob],
        marked: bool,
    ) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.put_blobs(blobs, marked).await,
            Kind::Memory(memory) => {
                memory.put_blobs(blobs, marked);
                Ok(())
            }
        }
    }

    /// The file name and the blob stored under `id`, if any.
    pub(crate) async fn blob(&self, id: &str) -> Result<Option<(String, Blob)>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.blob(id).await,
            Kind::Memory(memory) => Ok(memory.blob(id)),
        }
    }

    /// Deletes the blob `id` and its upload mark.
    pub(crate) async fn delete_blob(&self, id: &str) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.delete_blob(id).await,
            Kind::Memory(memory) => {
                memory.delete_blob(id);
                Ok(())
            }
        }
    }

    pub(crate) async fn blob_ids(&self) -> Result<Vec<String>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.blob_ids().await,
            Kind::Memory(memory) => Ok(memory.blob_ids()),
        }
    }

    /// Every blob's id and size in bytes.
    pub(crate) async fn blob_sizes(&self) -> Result<Vec<(String, f64)>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.blob_sizes().await,
            Kind::Memory(memory) => Ok(memory.blob_sizes()),
        }
    }

    /// The hashes marked for upload, in order.
    pub(crate) async fn upload_marks(&self) -> Result<Vec<String>, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.upload_marks().await,
            Kind::Memory(memory) => Ok(memory.upload_marks()),
        }
    }

    pub(crate) async fn clear_upload_mark(&self, hash: &str) -> Result<(), StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.clear_upload_mark(hash).await,
            Kind::Memory(memory) => {
                memory.clear_upload_mark(hash);
                Ok(())
            }
        }
    }

    /// Deletes the blob rows [`crate::blobs::plan::releasable`] picks, reading the
    /// records, marks and rows in the same transaction.
    pub(crate) async fn release_unreferenced_blobs(&self) -> Result<Released, StoreError> {
        match &self.0 {
            Kind::Idb(idb) => idb.release_unreferenced_blobs().await,
            Kind::Memory(memory) => Ok(memory.release_unreferenced_blobs()),
        }
    }
}
