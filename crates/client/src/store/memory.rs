//! The memory backend, for when IndexedDB cannot be opened: the same rows in maps, kept
//! as long as the page. Every operation runs without awaiting, so each is as atomic as
//! the IndexedDB transaction it stands for. It keeps no secrets and no snapshots.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use cairn_protocol::{Hlc, Record, RecordKey};
use wasm_bindgen::JsValue;
use web_sys::Blob;

use super::{
    made_from_each, Batch, EntryStep, Held, Loaded, MadeFrom, MadeFromBase, OutboxEntry,
    StampedWrite, Step,
};
use crate::blobs::{js_referenced, plan, Released};
use crate::codec::to_js;
use crate::js_record::JsRecord;
use crate::StoreError;
use crate::StoredBlob;

/// Why IndexedDB could not be used, and the data.
pub(super) struct Memory {
    pub(super) reason: String,
    db: RefCell<MemoryDb>,
}

#[derive(Default)]
struct MemoryDb {
    records: BTreeMap<RecordKey, JsRecord>,
    outbox: BTreeMap<RecordKey, OutboxEntry>,
    /// Stored conflicts, as the rows IndexedDB would hold.
    conflicts: BTreeMap<(RecordKey, Hlc), JsValue>,
    meta: BTreeMap<&'static str, JsValue>,
    /// Each blob with the file name it was stored with.
    blobs: BTreeMap<String, (String, Blob)>,
    /// The hashes marked for upload.
    uploads: BTreeSet<String>,
    /// Set-aside changes, as the rows IndexedDB would hold.
    set_aside: BTreeMap<RecordKey, JsValue>,
}

impl Memory {
    pub(super) fn new(reason: String) -> Memory {
        Memory {
            reason,
            db: RefCell::default(),
        }
    }

    pub(super) fn meta(&self, key: &'static str) -> Option<JsValue> {
        self.db.borrow().meta.get(key).cloned()
    }

    pub(super) fn set_meta(&self, key: &'static str, value: Option<JsValue>) {
        let mut db = self.db.borrow_mut();
        match value {
            Some(value) => {
                db.meta.insert(key, value);
            }
            None => {
                db.meta.remove(key);
            }
        }
    }

    pub(super) fn record(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.db
            .borrow()
            .records
            .get(key)
            .map(JsRecord::decode)
            .transpose()
    }

    pub(super) fn records_and_marks(
        &self,
        keys: &[RecordKey],
    ) -> Result<super::RowsAndMarks, StoreError> {
        let db = self.db.borrow();
        let records = keys
            .iter()
            .map(|k| {
                db.records
                    .get(k)
                    .map(|r| Ok((r.clone(), to_js(r)?)))
                    .transpose()
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((records, db.uploads.iter().cloned().collect()))
    }

    pub(super) fn all_records(&self) -> Result<Vec<Record>, StoreError> {
        self.db
            .borrow()
            .records
            .values()
            .map(|r| r.decode())
            .collect()
    }

    pub(super) fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        self.db
            .borrow_mut()
            .records
            .insert(record.key(), JsRecord::from_record(record)?);
        Ok(())
    }

    pub(super) fn load_collection(&self, collection: &str) -> Result<Loaded, StoreError> {
        let records = self
            .db
            .borrow()
            .records
            .values()
            .filter(|r| r.collection == collection)
            .map(JsRecord::decode)
            .collect::<Result<_, _>>()?;
        Ok(Loaded {
            records,
            quarantined: Vec::new(),
        })
    }

    /// One page by `order_key`, filtered and sorted as the index holds it
    /// ([`crate::ordered`]).
    pub(super) fn ordered_page(
        &self,
        query: &crate::ordered::Query<'_>,
    ) -> Result<crate::OrderedPage, StoreError> {
        crate::ordered::memory_page(self.db.borrow().records.values(), query)
    }

    pub(super) fn outbox(&self) -> Vec<OutboxEntry> {
        self.db.borrow().outbox.values().cloned().collect()
    }

    pub(super) fn outbox_len(&self) -> usize {
        self.db.borrow().outbox.len()
    }

    /// [`super::idb::Idb::commit_local`] on the maps. There is no stored clock: this
    /// context's is the only one.
    pub(super) fn commit_local(
        &self,
        keys: &[RecordKey],
        blobs: Vec<StoredBlob>,
        stamp: impl FnOnce(Option<Hlc>) -> Result<StampedWrite, StoreError>,
    ) -> Result<Vec<MadeFromBase>, StoreError> {
        let made_from = {
            let db = self.db.borrow();
            made_from_each(keys, &mut |i| {
                let key = &keys[i];
                let pending = match db.outbox.get(key) {
                    Some(entry) => Some(entry.made_from_what()),
                    None => db.set_aside.get(key).map(MadeFrom::of_row),
                };
                Ok(MadeFrom::for_change(pending, db.records.get(key).cloned()))
            })?
        };
        let stamped = stamp(None)?;
        // Encoded before anything is stored: all of it, or none.
        let rows = stamped
            .records
            .iter()
            .map(JsRecord::from_record)
            .collect::<Result<Vec<_>, _>>()?;
        let mut db = self.db.borrow_mut();
        for blob in blobs {
            db.uploads.insert(blob.id.clone());
            db.blobs.insert(blob.id, (blob.name, blob.blob));
        }
        let mut written = Vec::with_capacity(stamped.records.len());
        for ((record, base), row) in stamped.records.into_iter().zip(made_from).zip(rows) {
            let entry = OutboxEntry::made_from(&record.key(), &record.hlc, base);
            let base = entry.push_base().cloned();
            db.outbox.insert(record.key(), entry);
            db.set_aside.remove(&record.key());
            db.records.insert(record.key(), row);
            written.push((record, base));
        }
        if let Some(conflict) = stamped.conflict {
            db.conflicts.insert(conflict.lost, conflict.row);
        }
        Ok(written)
    }

    /// [`super::Backend::apply`] on the maps.
    pub(super) fn apply(
        &self,
        batch: Batch<'_>,
        witness: impl FnOnce(Option<Hlc>) -> Result<(), StoreError>,
        mut step: impl FnMut(Held<'_>, &JsRecord) -> Result<Step, StoreError>,
    ) -> Result<(), StoreError> {
        witness(None)?;
        let mut db = self.db.borrow_mut();
        for record in batch.acknowledged {
            let key = record.key();
            let unchanged = db.outbox.get(&key).map(|e| e.hlc == record.hlc);
            match (unchanged, db.outbox.get_mut(&key)) {
                (Some(true), _) => {
                    db.outbox.remove(&key);
                }
                // Changed again meanwhile: that change was made after this one.
                (_, Some(entry)) => entry.made_after(record),
                _ => {}
            }
        }
        for record in batch.incoming {
            let key = record.key();
            let held = Held {
                local: db.records.get(&key),
                entry: db.outbox.get(&key),
                aside: db.set_aside.contains_key(&key),
            };
            let step = step(held, record)?;
            if let Some(conflict) = step.conflict {
                db.conflicts.insert(conflict.lost, conflict.row);
            }
            match step.entry {
                EntryStep::Keep => {}
                EntryStep::Drop => {
                    db.outbox.remove(&key);
                }
                EntryStep::Put(entry) => {
                    db.outbox.insert(key.clone(), entry);
                }
            }
            if step.clear_aside {
                db.set_aside.remove(&key);
            }
            if let Some(stored) = step.record {
                db.records.insert(key, stored);
            }
        }
        if let Some((key, cursor)) = batch.cursor {
            db.meta.insert(key, cursor);
        }
        Ok(())
    }

    pub(super) fn queue_everything(&self) -> usize {
        let mut db = self.db.borrow_mut();
        let entries: Vec<_> = db
            .records
            .values()
            .map(|r| (r.key(), OutboxEntry::replay(r)))
            .collect();
        let n = entries.len();
        db.outbox.extend(entries);
        let referenced = referenced(db.records.values());
        let remarked = plan::remark(db.blobs.keys().map(String::as_str), &referenced);
        db.uploads.extend(remarked);
        n
    }

    pub(super) fn log_conflict(&self, lost: (RecordKey, Hlc), row: JsValue) {
        self.db.borrow_mut().conflicts.insert(lost, row);
    }

    pub(super) fn conflict_rows(&self) -> Vec<JsValue> {
        self.db.borrow().conflicts.values().cloned().collect()
    }

    pub(super) fn delete_conflict(&self, lost: &(RecordKey, Hlc)) {
        self.db.borrow_mut().conflicts.remove(lost);
    }

    pub(super) fn set_aside_rows(&self) -> Vec<JsValue> {
        self.db.borrow().set_aside.values().cloned().collect()
    }

    /// [`super::idb::Idb::set_aside_refused`] on the maps.
    pub(super) fn set_aside_refused(
        &self,
        refused: &[(JsRecord, String)],
        row: impl Fn(&JsRecord, &str, OutboxEntry) -> Result<JsValue, StoreError>,
    ) -> Result<usize, StoreError> {
        let mut db = self.db.borrow_mut();
        let mut moved = 0;
        for (record, reason) in refused {
            let key = record.key();
            if db.outbox.get(&key).is_some_and(|e| e.hlc == record.hlc) {
                let entry = db.outbox.remove(&key).expect("the entry just found");
                db.set_aside.insert(key, row(record, reason, entry)?);
                moved += 1;
            }
        }
        Ok(moved)
    }

    pub(super) fn delete_set_aside(&self, key: &RecordKey) {
        self.db.borrow_mut().set_aside.remove(key);
    }

    pub(super) fn clear_local_data(&self) {
        let mut db = self.db.borrow_mut();
        db.records.clear();
        db.outbox.clear();
        db.conflicts.clear();
        db.set_aside.clear();
        db.uploads.clear();
    }

    pub(super) fn put_blobs(&self, blobs: &[StoredBlob], marked: bool) {
        let mut db = self.db.borrow_mut();
        for blob in blobs {
            if marked {
                db.uploads.insert(blob.id.clone());
            }
            db.blobs
                .insert(blob.id.clone(), (blob.name.clone(), blob.blob.clone()));
        }
    }

    pub(super) fn blob(&self, id: &str) -> Option<(String, Blob)> {
        self.db.borrow().blobs.get(id).cloned()
    }

    pub(super) fn delete_blob(&self, id: &str) {
        let mut db = self.db.borrow_mut();
        db.blobs.remove(id);
        db.uploads.remove(id);
    }

    pub(super) fn blob_ids(&self) -> Vec<String> {
        self.db.borrow().blobs.keys().cloned().collect()
    }

    pub(super) fn blob_sizes(&self) -> Vec<(String, f64)> {
        let db = self.db.borrow();
        db.blobs
            .iter()
            .map(|(id, (_, blob))| (id.clone(), blob.size()))
            .collect()
    }

    pub(super) fn upload_marks(&self) -> Vec<String> {
        self.db.borrow().uploads.iter().cloned().collect()
    }

    pub(super) fn clear_upload_mark(&self, hash: &str) {
        self.db.borrow_mut().uploads.remove(hash);
    }

    /// [`super::idb::Idb::release_unreferenced_blobs`] on the maps.
    pub(super) fn release_unreferenced_blobs(&self) -> Released {
        let mut db = self.db.borrow_mut();
        let referenced = referenced(db.records.values());
        let gone = plan::releasable(db.blobs.keys().map(String::as_str), &referenced);
        let mut released = Released::default();
        for id in gone {
            db.uploads.remove(&id);
            if let Some((_, blob)) = db.blobs.remove(&id) {
                released.count += 1;
                released.bytes += blob.size();
            }
        }
        released
    }
}

/// Every blob the live records among `records` name.
fn referenced<'r>(records: impl Iterator<Item = &'r JsRecord>) -> BTreeSet<String> {
    records
        .flat_map(|r| js_referenced(&r.value, r.deleted))
        .collect()
}
