//! The IndexedDB backend: rexie opens, upgrades and reads the database (and runs the data
//! migrations); the [`Writer`] makes local writes on a plain connection beside it.
//!
//! Each operation is one transaction. The ones that read before they write (a local
//! commit, applying a batch from elsewhere, setting refused changes aside) do both in
//! the same readwrite transaction, so no other context can change what was read.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use cairn_protocol::{merge, DeviceId, Hlc, HlcClock, Merge, Record, RecordKey};
use futures_util::future::try_join_all;
use rexie::{KeyRange, Rexie, Transaction, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

use super::{
    context_clock_id, made_from_each, Batch, EntryStep, Held, Loaded, MadeFrom, MadeFromBase,
    OutboxEntry, Quarantined, StampedWrite, Step,
};
use crate::blobs::{plan, row_referenced, Released};
use crate::codec::{from_js, now_ms, random_u64, string_field, to_js};
use crate::error::{dom_exception_name, err_text};
use crate::js_record::JsRecord;
use crate::key_batch;
use crate::schema::{
    self, BLOBS, CONFLICTS, META, META_CLOCK, META_CLOCK_OFFSET, META_DATA_VERSION, META_DEVICE_ID,
    OUTBOX, QUARANTINE, RECORDS, SET_ASIDE, UPLOADS,
};
use crate::writer::{self, Read, Write, Writer};
use crate::StoreError;
use crate::StoredBlob;

/// An open IndexedDB database: rexie's connection, and the writer's.
pub(crate) struct Idb {
    db: Rexie,
    writer: Writer,
}

impl Idb {
    /// Opens the database `name` (see [`crate::Store::open_reporting_blocked`]): waits
    /// for an upgrade another tab blocks, creates or upgrades it, runs pending data
    /// migrations, and loads or creates this device's id and clock. Returns this
    /// context's clock and the stored offset to the server's clock with it.
    pub(super) async fn open(
        name: &str,
        on_blocked: impl FnOnce() + 'static,
    ) -> Result<(Idb, HlcClock, i64), StoreError> {
        writer::wait_until_upgradable(name, schema::DB_VERSION, on_blocked).await?;
        let db = match schema::builder(name).build().await {
            Ok(db) => db,
            Err(err) if dom_exception_name(&err).as_deref() == Some("VersionError") => {
                return Err(StoreError::NewerSchema {
                    found: existing_version(name).await.unwrap_or(0),
                    supported: schema::DB_VERSION,
                });
            }
            Err(err) => return Err(StoreError::Unavailable(err_text(&err))),
        };
        migrate(&db).await?;
        let (clock, offset) = load_or_create_clock(&db).await?;
        let writer = Writer::open(name).await?;
        Ok((Idb { db, writer }, clock, offset))
    }

    pub(super) async fn delete_database(name: &str) -> Result<(), StoreError> {
        Rexie::delete(name).await.map_err(Into::into)
    }

    /// One page of the `order_key` index, read with a cursor ([`crate::ordered`]).
    pub(super) async fn ordered_page(
        &self,
        query: &crate::ordered::Query<'_>,
    ) -> Result<crate::OrderedPage, StoreError> {
        crate::ordered::idb_page(&self.db, query).await
    }

    /// Closes both connections: an open one would block other tabs' upgrades and
    /// deleting the database until the page goes away.
    pub(super) fn close(self) {
        self.writer.close();
        self.db.close();
    }

    /// The value at `key` of `store`, if any.
    pub(crate) async fn get(
        &self,
        store: &str,
        key: JsValue,
    ) -> Result<Option<JsValue>, StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadOnly)?;
        Ok(tx.store(store)?.get(key).await?)
    }

    /// Every value of `store`, in key order.
    pub(crate) async fn get_all(&self, store: &str) -> Result<Vec<JsValue>, StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadOnly)?;
        Ok(tx.store(store)?.get_all(None, None).await?)
    }

    /// Every key of `store`, in order.
    pub(crate) async fn keys(&self, store: &str) -> Result<Vec<JsValue>, StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadOnly)?;
        Ok(tx.store(store)?.get_all_keys(None, None).await?)
    }

    /// Puts `value` into `store` (at `key`, for a store without a key path), replacing
    /// what was there. Resolves once committed.
    pub(crate) async fn put(
        &self,
        store: &str,
        value: &JsValue,
        key: Option<&JsValue>,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadWrite)?;
        tx.store(store)?.put(value, key).await?;
        commit(tx).await
    }

    /// Adds `value` into `store` at `key`; fails if that key holds a value already.
    pub(crate) async fn add(
        &self,
        store: &str,
        value: &JsValue,
        key: &JsValue,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadWrite)?;
        tx.store(store)?.add(value, Some(key)).await?;
        commit(tx).await
    }

    /// Deletes the value at `key` of `store` (nothing happens if there is none).
    pub(crate) async fn delete(&self, store: &str, key: JsValue) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadWrite)?;
        tx.store(store)?.delete(key).await?;
        commit(tx).await
    }

    pub(super) async fn meta(&self, key: &'static str) -> Result<Option<JsValue>, StoreError> {
        self.get(META, key.into()).await
    }

    pub(super) async fn set_meta(
        &self,
        key: &'static str,
        value: Option<JsValue>,
    ) -> Result<(), StoreError> {
        match value {
            Some(value) => self.put(META, &value, Some(&key.into())).await,
            None => self.delete(META, key.into()).await,
        }
    }

    /// Brings the stored clock and `clock` back within the drift limit of
    /// `server_time_ms` ([`HlcClock::limit_to`]), in one transaction.
    pub(super) async fn limit_clock(
        &self,
        clock: &RefCell<HlcClock>,
        server_time_ms: u64,
    ) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[META], TransactionMode::ReadWrite)?;
        let meta = tx.store(META)?;
        let stored = meta.get(META_CLOCK.into()).await?;
        let limited = {
            let mut clock = clock.borrow_mut();
            if let Some(stored) = stored.and_then(|raw| from_js::<Hlc>(raw).ok()) {
                clock.catch_up(&stored);
            }
            clock.limit_to(server_time_ms).then(|| clock.last().clone())
        };
        if let Some(last) = limited {
            meta.put(&to_js(&last)?, Some(&META_CLOCK.into())).await?;
        }
        commit(tx).await
    }

    pub(super) async fn record(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let raw = self.get(RECORDS, key_js(key)).await?;
        raw.map(|raw| {
            from_js::<Record>(raw).map_err(|reason| StoreError::Corrupt {
                collection: key.collection.clone(),
                id: key.id.clone(),
                reason,
            })
        })
        .transpose()
    }

    /// The records at `keys`, in order, read in one transaction.
    pub(super) async fn records_and_marks(
        &self,
        keys: &[RecordKey],
    ) -> Result<super::RowsAndMarks, StoreError> {
        let tx = self
            .db
            .transaction(&[RECORDS, UPLOADS], TransactionMode::ReadOnly)?;
        let raws = key_batch::read(&tx.store(RECORDS)?, keys).await?.rows;
        let marks = key_strings(tx.store(UPLOADS)?.get_all_keys(None, None).await?);
        let records = keys
            .iter()
            .zip(raws)
            .map(|(key, raw)| {
                raw.map(|raw| match from_js::<JsRecord>(raw.clone()) {
                    Ok(record) => Ok((record, raw)),
                    Err(reason) => Err(StoreError::Corrupt {
                        collection: key.collection.clone(),
                        id: key.id.clone(),
                        reason,
                    }),
                })
                .transpose()
            })
            .collect::<Result<_, _>>()?;
        Ok((records, marks))
    }

    /// Every record that decodes, tombstones included, in key order.
    pub(super) async fn all_records(&self) -> Result<Vec<Record>, StoreError> {
        Ok(self
            .get_all(RECORDS)
            .await?
            .into_iter()
            .filter_map(|raw| from_js::<Record>(raw).ok())
            .collect())
    }

    pub(super) async fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        self.put(RECORDS, &to_js(record)?, None).await
    }

    /// The records of `collection`; rows that do not decode go to the quarantine.
    pub(super) async fn load_collection(&self, collection: &str) -> Result<Loaded, StoreError> {
        let tx = self.db.transaction(&[RECORDS], TransactionMode::ReadOnly)?;
        let raws = tx
            .store(RECORDS)?
            .get_all(Some(collection_range(collection)?), None)
            .await?;
        let mut loaded = Loaded::default();
        let mut bad = Vec::new();
        for raw in raws {
            match from_js::<Record>(raw.clone()) {
                Ok(record) => loaded.records.push(record),
                Err(reason) => bad.push((raw, reason)),
            }
        }
        if !bad.is_empty() {
            loaded.quarantined = quarantine(&self.db, collection, bad).await?;
        }
        Ok(loaded)
    }

    pub(super) async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        Ok(self
            .get_all(QUARANTINE)
            .await?
            .iter()
            .map(|raw| Quarantined {
                collection: string_field(raw, "collection").unwrap_or_default(),
                id: string_field(raw, "id").unwrap_or_default(),
                reason: string_field(raw, "reason").unwrap_or_default(),
            })
            .collect())
    }

    pub(super) async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.get_all(OUTBOX)
            .await?
            .into_iter()
            .map(|raw| {
                from_js::<OutboxEntry>(raw.clone()).map_err(|reason| StoreError::Corrupt {
                    collection: string_field(&raw, "collection").unwrap_or_default(),
                    id: string_field(&raw, "id").unwrap_or_default(),
                    reason,
                })
            })
            .collect()
    }

    pub(super) async fn outbox_len(&self) -> Result<usize, StoreError> {
        let tx = self.db.transaction(&[OUTBOX], TransactionMode::ReadOnly)?;
        Ok(tx.store(OUTBOX)?.count(None).await? as usize)
    }

    /// Makes local changes of `keys` on the writer's connection, in one transaction:
    /// reads the stored clock and, per key, the outbox entry, the record and the
    /// set-aside row; `stamp` stamps the changes past that clock; stores the records,
    /// their outbox entries, the clock and the conflict row, and removes the set-aside
    /// rows of the keys. Returns each record with the base it will be pushed with.
    pub(super) async fn commit_local(
        &self,
        keys: Vec<RecordKey>,
        blobs: Vec<StoredBlob>,
        stamp: impl FnOnce(Option<Hlc>) -> Result<StampedWrite, StoreError> + 'static,
    ) -> Result<Vec<MadeFromBase>, StoreError> {
        // The blob rows and marks are built before the transaction, stored in it.
        let mut blob_rows = Vec::with_capacity(blobs.len());
        let mut marks = Vec::with_capacity(blobs.len());
        for blob in &blobs {
            blob_rows.push(blob_row(&blob.id, &blob.name, &blob.blob)?);
            marks.push(mark_row(&blob.id)?);
        }
        let mut stores = vec![RECORDS, OUTBOX, CONFLICTS, META, SET_ASIDE];
        if !blobs.is_empty() {
            stores.extend([BLOBS, UPLOADS]);
        }
        let written: Rc<RefCell<Vec<MadeFromBase>>> = Rc::default();
        let out = written.clone();
        let clock_key = JsValue::from_str(META_CLOCK);
        // The clock, then each change's outbox entry, record and set-aside row.
        let reads = [
            Read::Key(META, clock_key.clone()),
            Read::Rows(OUTBOX, &keys),
            Read::Rows(RECORDS, &keys),
            Read::Rows(SET_ASIDE, &keys),
        ];
        let n = keys.len();
        let read_keys = keys.clone();
        self.writer
            .read_then_write(&stores, &reads, move |mut values| {
                let keys = read_keys;
                let corrupt = |store: &str, key: &RecordKey, reason| StoreError::Corrupt {
                    collection: key.collection.clone(),
                    id: format!("{} ({store})", key.id),
                    reason,
                };
                let stored = values[0]
                    .take()
                    .map(|raw| {
                        from_js::<Hlc>(raw).map_err(|reason| StoreError::Corrupt {
                            collection: META.into(),
                            id: META_CLOCK.into(),
                            reason,
                        })
                    })
                    .transpose()?;
                // Only the keys with a set-aside row: a delete each.
                let mut set_aside = Vec::new();
                let made_from = made_from_each(&keys, &mut |i| {
                    let key = &keys[i];
                    let [entry, held, aside] = [0, 1, 2].map(|j| values[1 + j * n + i].take());
                    if aside.is_some() {
                        set_aside.push(key_js(key));
                    }
                    let pending = match (entry, aside) {
                        (Some(raw), _) => Some(
                            from_js::<OutboxEntry>(raw)
                                .map_err(|r| corrupt(OUTBOX, key, r))?
                                .made_from_what(),
                        ),
                        (None, Some(raw)) => Some(MadeFrom::of_row(&raw)),
                        (None, None) => None,
                    };
                    // A held record that does not decode is the quarantine's to
                    // handle; the change is then made from nothing known.
                    let held = held.and_then(|raw| from_js::<JsRecord>(raw).ok());
                    Ok(MadeFrom::for_change(pending, held))
                })?;
                let stamped = stamp(stored)?;
                let mut write = Write::default();
                let (mut records, mut outbox) = (Vec::new(), Vec::new());
                let mut bases = Vec::with_capacity(made_from.len());
                for (record, base) in stamped.records.iter().zip(made_from) {
                    let key = record.key();
                    records.push(to_js(record)?);
                    let entry = OutboxEntry::made_from(&key, &record.hlc, base);
                    bases.push(entry.push_base().cloned());
                    outbox.push(to_js(&entry)?);
                }
                if !blob_rows.is_empty() {
                    write.puts.push((BLOBS, blob_rows));
                    write.puts.push((UPLOADS, marks));
                }
                write.puts.push((RECORDS, records));
                write.puts.push((OUTBOX, outbox));
                if let Some(conflict) = stamped.conflict {
                    write.puts.push((CONFLICTS, vec![conflict.row]));
                }
                write.keyed.push((META, clock_key, to_js(&stamped.clock)?));
                write.deletes.push((SET_ASIDE, set_aside));
                *out.borrow_mut() = stamped.records.into_iter().zip(bases).collect();
                Ok(write)
            })
            .await?;
        Ok(written.take())
    }

    /// Applies a batch from elsewhere in one transaction (see [`super::Backend::apply`]).
    pub(super) async fn apply(
        &self,
        batch: Batch<'_>,
        clock: &RefCell<HlcClock>,
        witness: impl FnOnce(Option<Hlc>) -> Result<(), StoreError>,
        mut step: impl FnMut(Held<'_>, &JsRecord) -> Result<Step, StoreError>,
    ) -> Result<(), StoreError> {
        let Batch {
            acknowledged,
            incoming,
            incoming_rows,
            cursor,
        } = batch;
        let tx = self.db.transaction(
            &[RECORDS, OUTBOX, CONFLICTS, META, SET_ASIDE],
            TransactionMode::ReadWrite,
        )?;
        let (records, outbox) = (tx.store(RECORDS)?, tx.store(OUTBOX)?);
        let (conflicts, meta) = (tx.store(CONFLICTS)?, tx.store(META)?);
        let set_aside = tx.store(SET_ASIDE)?;
        let stored = meta.get(JsValue::from_str(META_CLOCK)).await?;
        witness(stored.and_then(|raw| from_js::<Hlc>(raw).ok()))?;

        // Every read is issued at once (or as one range): one round trip per batch, not
        // per record.
        let acked_keys: Vec<RecordKey> = acknowledged.iter().map(|r| r.key()).collect();
        let acked = key_batch::read(&outbox, &acked_keys).await?;
        let (mut deletes, mut rebased) = (Vec::new(), Vec::new());
        // What the outbox holds for a key now, as far as this batch changed it.
        let mut entries: BTreeMap<RecordKey, Option<OutboxEntry>> = BTreeMap::new();
        for (record, entry) in acknowledged.iter().zip(acked.rows) {
            let Some(raw) = entry else {
                continue;
            };
            // The common case, told by the stored clock alone: the entry is still the
            // version pushed, and goes.
            let unchanged = string_field(&raw, "hlc")
                .and_then(|hlc| hlc.parse::<Hlc>().ok())
                .is_some_and(|hlc| hlc == record.hlc);
            if unchanged {
                if !matches!(entries.insert(record.key(), None), Some(None)) {
                    deletes.push(record.key());
                }
                continue;
            }
            let Some(mut entry) = from_js::<OutboxEntry>(raw).ok() else {
                continue;
            };
            if entry.hlc == record.hlc {
                if !matches!(entries.insert(record.key(), None), Some(None)) {
                    deletes.push(record.key());
                }
            } else {
                // Changed again meanwhile: that change was made after this one.
                entry.made_after(record);
                rebased.push(to_js(&entry)?);
                entries.insert(record.key(), Some(entry));
            }
        }
        futures_util::future::try_join(
            key_batch::delete(&outbox, &deletes, acked.range.as_ref()),
            async {
                try_join_all(rebased.iter().map(|row| outbox.put(row, None))).await?;
                Ok(())
            },
        )
        .await?;

        let keys: Vec<RecordKey> = incoming.iter().map(JsRecord::key).collect();
        let (locals, pendings, asides) = futures_util::future::try_join3(
            key_batch::read(&records, &keys),
            key_batch::read(&outbox, &keys),
            key_batch::read(&set_aside, &keys),
        )
        .await?;
        let (locals, pendings) = (locals.rows, pendings.rows);
        let asides = asides.rows.into_iter().map(|row| row.is_some());
        let (mut puts, mut outbox_deletes, mut aside_deletes) =
            (Vec::new(), Vec::new(), Vec::new());
        // Later records of the same key in one batch see what earlier ones did.
        let mut seen: BTreeMap<RecordKey, (Option<JsRecord>, bool)> = BTreeMap::new();
        let rows = (0..incoming.len()).map(|i| incoming_rows.and_then(|rows| rows.get(i)));
        for ((((record, row), local), pending), aside) in incoming
            .iter()
            .zip(rows)
            .zip(locals)
            .zip(pendings)
            .zip(asides)
        {
            let key = record.key();
            let entry = match entries.get(&key) {
                Some(entry) => entry.clone(),
                None => pending.and_then(|raw| from_js::<OutboxEntry>(raw).ok()),
            };
            // Fast path: a version this device already has (its own change coming back, a
            // retried pull), or an older one with nothing pending, is decided on the stored
            // clock alone, without decoding the stored row.
            if !seen.contains_key(&key) {
                let held = local
                    .as_ref()
                    .and_then(|raw| string_field(raw, "hlc"))
                    .and_then(|hlc| hlc.parse::<Hlc>().ok());
                let idle = entry.is_none() && !aside;
                match merge(held.as_ref(), &record.hlc) {
                    Merge::Duplicate => continue,
                    Merge::Keep if idle => continue,
                    _ => {}
                }
            }
            let (local, aside) = seen
                .remove(&key)
                .unwrap_or_else(|| (local.and_then(|raw| from_js::<JsRecord>(raw).ok()), aside));
            let held = Held {
                local: local.as_ref(),
                entry: entry.as_ref(),
                aside,
            };
            let step = step(held, record)?;
            if let Some(conflict) = step.conflict {
                puts.push((CONFLICTS, conflict.row));
            }
            match step.entry {
                EntryStep::Keep => {}
                EntryStep::Drop => {
                    if entry.is_some() {
                        outbox_deletes.push(key_js(&key));
                    }
                    entries.insert(key.clone(), None);
                }
                EntryStep::Put(entry) => {
                    puts.push((OUTBOX, to_js(&entry)?));
                    entries.insert(key.clone(), Some(entry));
                }
            }
            let aside = aside && !step.clear_aside;
            if step.clear_aside {
                aside_deletes.push(key_js(&key));
            }
            let local = match step.record {
                Some(stored) => {
                    // The version as it came (one clock, one version): its own row.
                    let row = match row {
                        Some(row) if stored.hlc == record.hlc && is_record_row(row) => row.clone(),
                        _ => to_js(&stored)?,
                    };
                    puts.push((RECORDS, row));
                    Some(stored)
                }
                None => local,
            };
            seen.insert(key, (local, aside));
        }
        try_join_all(
            outbox_deletes
                .into_iter()
                .map(|k| outbox.delete(k))
                .chain(aside_deletes.into_iter().map(|k| set_aside.delete(k))),
        )
        .await?;
        // Every put issued at once, only the last of each store awaited: the requests of
        // a transaction run in order, and one that fails aborts it (which `commit` sees),
        // so a callback per row would tell nothing more.
        let (mut record_rows, mut outbox_rows, mut conflict_rows) =
            (Vec::with_capacity(puts.len()), Vec::new(), Vec::new());
        for (store, row) in puts {
            match store {
                RECORDS => record_rows.push((row, None)),
                OUTBOX => outbox_rows.push((row, None)),
                _ => conflict_rows.push((row, None)),
            }
        }
        futures_util::future::try_join3(
            records.put_all(record_rows.into_iter()),
            outbox.put_all(outbox_rows.into_iter()),
            conflicts.put_all(conflict_rows.into_iter()),
        )
        .await?;
        // After any change made here from a concurrent pair.
        let clock = clock.borrow().last().clone();
        meta.put(&to_js(&clock)?, Some(&JsValue::from_str(META_CLOCK)))
            .await?;
        if let Some((key, cursor)) = cursor {
            meta.put(&cursor, Some(&key.into())).await?;
        }
        commit(tx).await
    }

    /// Queues every stored record that decodes as a replay, and marks for upload every
    /// local blob a live record names, in one transaction.
    pub(super) async fn queue_everything(&self) -> Result<usize, StoreError> {
        let tx = self.db.transaction(
            &[RECORDS, OUTBOX, BLOBS, UPLOADS],
            TransactionMode::ReadWrite,
        )?;
        let outbox = tx.store(OUTBOX)?;
        let raws = tx.store(RECORDS)?.get_all(None, None).await?;
        let referenced = raws.iter().flat_map(row_referenced).collect();
        let rows: Vec<JsValue> = raws
            .into_iter()
            .filter_map(|raw| from_js::<JsRecord>(raw).ok())
            .map(|r| to_js(&OutboxEntry::replay(&r)))
            .collect::<Result<_, _>>()?;
        try_join_all(rows.iter().map(|row| outbox.put(row, None))).await?;
        let local = key_strings(tx.store(BLOBS)?.get_all_keys(None, None).await?);
        let remarked = plan::remark(local.iter().map(String::as_str), &referenced);
        let uploads = tx.store(UPLOADS)?;
        let marks = remarked
            .iter()
            .map(|h| mark_row(h))
            .collect::<Result<Vec<_>, _>>()?;
        try_join_all(marks.iter().map(|row| uploads.put(row, None))).await?;
        commit(tx).await?;
        Ok(rows.len())
    }

    pub(super) async fn log_conflict(&self, row: &JsValue) -> Result<(), StoreError> {
        self.put(CONFLICTS, row, None).await
    }

    pub(super) async fn conflict_rows(&self) -> Result<Vec<JsValue>, StoreError> {
        self.get_all(CONFLICTS).await
    }

    pub(super) async fn delete_conflict(&self, lost: &(RecordKey, Hlc)) -> Result<(), StoreError> {
        self.delete(CONFLICTS, conflict_key_js(lost)).await
    }

    pub(super) async fn set_aside_rows(&self) -> Result<Vec<JsValue>, StoreError> {
        self.get_all(SET_ASIDE).await
    }

    pub(super) async fn delete_set_aside(&self, key: &RecordKey) -> Result<(), StoreError> {
        self.delete(SET_ASIDE, key_js(key)).await
    }

    /// Moves each refused change whose outbox entry still has its clock to the
    /// set-aside list (the row `row` makes of it), in one transaction.
    pub(super) async fn set_aside_refused(
        &self,
        refused: &[(JsRecord, String)],
        row: impl Fn(&JsRecord, &str, OutboxEntry) -> Result<JsValue, StoreError>,
    ) -> Result<usize, StoreError> {
        let tx = self
            .db
            .transaction(&[OUTBOX, SET_ASIDE], TransactionMode::ReadWrite)?;
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

    /// Removes every record, outbox entry, conflict and set-aside change, in one
    /// transaction.
    pub(super) async fn clear_local_data(&self) -> Result<(), StoreError> {
        let stores = [RECORDS, OUTBOX, CONFLICTS, SET_ASIDE, UPLOADS];
        let tx = self.db.transaction(&stores, TransactionMode::ReadWrite)?;
        for store in stores {
            tx.store(store)?.clear().await?;
        }
        commit(tx).await
    }

    /// Stores each of `blobs` under its id as the row
    /// `{id, name, type, size, blob, stored_at_ms}`, with its upload mark when `marked`,
    /// in one transaction.
    pub(super) async fn put_blobs(
        &self,
        blobs: &[StoredBlob],
        marked: bool,
    ) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[BLOBS, UPLOADS], TransactionMode::ReadWrite)?;
        let (rows, uploads) = (tx.store(BLOBS)?, tx.store(UPLOADS)?);
        for blob in blobs {
            rows.put(&blob_row(&blob.id, &blob.name, &blob.blob)?, None)
                .await?;
            if marked {
                uploads.put(&mark_row(&blob.id)?, None).await?;
            }
        }
        commit(tx).await.map_err(|_| {
            StoreError::Storage(
                "the image could not be stored (the device may be out of space)".into(),
            )
        })
    }

    /// The file name and the blob stored under `id`, if any.
    pub(super) async fn blob(&self, id: &str) -> Result<Option<(String, Blob)>, StoreError> {
        let Some(row) = self.get(BLOBS, JsValue::from_str(id)).await? else {
            return Ok(None);
        };
        let blob = js_sys::Reflect::get(&row, &JsValue::from_str("blob"))
            .ok()
            .and_then(|b| b.dyn_into::<Blob>().ok())
            .ok_or_else(|| StoreError::Corrupt {
                collection: BLOBS.into(),
                id: id.into(),
                reason: "the row has no blob".into(),
            })?;
        Ok(Some((string_field(&row, "name").unwrap_or_default(), blob)))
    }

    /// Deletes the blob `id` and its upload mark, in one transaction.
    pub(super) async fn delete_blob(&self, id: &str) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[BLOBS, UPLOADS], TransactionMode::ReadWrite)?;
        tx.store(BLOBS)?.delete(JsValue::from_str(id)).await?;
        tx.store(UPLOADS)?.delete(JsValue::from_str(id)).await?;
        commit(tx).await
    }

    pub(super) async fn blob_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(key_strings(self.keys(BLOBS).await?))
    }

    /// Every blob's id and size (the row's `size`, else the blob's own).
    pub(super) async fn blob_sizes(&self) -> Result<Vec<(String, f64)>, StoreError> {
        Ok(self.get_all(BLOBS).await?.iter().map(blob_size).collect())
    }

    pub(super) async fn upload_marks(&self) -> Result<Vec<String>, StoreError> {
        Ok(key_strings(self.keys(UPLOADS).await?))
    }

    pub(super) async fn clear_upload_mark(&self, hash: &str) -> Result<(), StoreError> {
        self.delete(UPLOADS, JsValue::from_str(hash)).await
    }

    /// Reads the records, the upload marks and the blob rows, and deletes the rows
    /// [`plan::releasable`] picks, in one transaction.
    pub(super) async fn release_unreferenced_blobs(&self) -> Result<Released, StoreError> {
        let tx = self
            .db
            .transaction(&[RECORDS, UPLOADS, BLOBS], TransactionMode::ReadWrite)?;
        let referenced = tx
            .store(RECORDS)?
            .get_all(None, None)
            .await?
            .iter()
            .flat_map(row_referenced)
            .collect();
        let marks = tx.store(UPLOADS)?;
        let rows = tx.store(BLOBS)?;
        let sizes: BTreeMap<String, f64> = rows
            .get_all(None, None)
            .await?
            .iter()
            .map(blob_size)
            .collect();
        let gone = plan::releasable(sizes.keys().map(String::as_str), &referenced);
        let mut released = Released::default();
        for id in gone {
            rows.delete(JsValue::from_str(&id)).await?;
            marks.delete(JsValue::from_str(&id)).await?;
            released.count += 1;
            released.bytes += sizes[&id];
        }
        commit(tx).await?;
        Ok(released)
    }
}

/// The string keys among `keys`.
fn key_strings(keys: Vec<JsValue>) -> Vec<String> {
    keys.iter().filter_map(|k| k.as_string()).collect()
}

/// A blob row's id and size.
fn blob_size(row: &JsValue) -> (String, f64) {
    let size = js_sys::Reflect::get(row, &JsValue::from_str("size"))
        .ok()
        .and_then(|s| s.as_f64())
        .or_else(|| {
            js_sys::Reflect::get(row, &JsValue::from_str("blob"))
                .ok()
                .and_then(|b| b.dyn_into::<Blob>().ok())
                .map(|b| b.size())
        })
        .unwrap_or(0.0);
    (string_field(row, "id").unwrap_or_default(), size)
}

/// The upload mark of `hash`: `{hash, marked_at_ms}`.
fn mark_row(hash: &str) -> Result<JsValue, StoreError> {
    let row = js_sys::Object::new();
    for (field, value) in [
        ("hash", JsValue::from_str(hash)),
        ("marked_at_ms", JsValue::from(now_ms() as f64)),
    ] {
        js_sys::Reflect::set(&row, &field.into(), &value)
            .map_err(|e| StoreError::Encode(format!("{e:?}")))?;
    }
    Ok(row.into())
}

fn blob_row(id: &str, name: &str, blob: &Blob) -> Result<JsValue, StoreError> {
    let row = js_sys::Object::new();
    for (field, value) in [
        ("id", JsValue::from_str(id)),
        ("name", JsValue::from_str(name)),
        ("type", JsValue::from_str(&blob.type_())),
        ("size", JsValue::from(blob.size())),
        ("stored_at_ms", JsValue::from(now_ms() as f64)),
        ("blob", blob.clone().into()),
    ] {
        js_sys::Reflect::set(&row, &field.into(), &value)
            .map_err(|e| StoreError::Encode(format!("{e:?}")))?;
    }
    Ok(row.into())
}

/// Whether `row` (an object a record was read from) has a stored record's shape: its
/// five fields (`collection`, `id`, `value`, `hlc`, `deleted`) and no other.
fn is_record_row(row: &JsValue) -> bool {
    row.dyn_ref::<js_sys::Object>().is_some_and(|object| {
        js_sys::Object::keys(object).length() == 5
            && js_sys::Reflect::has(object, &JsValue::from_str("deleted")).unwrap_or(false)
    })
}

async fn commit(tx: Transaction) -> Result<(), StoreError> {
    if tx.done().await?.is_committed() {
        Ok(())
    } else {
        Err(StoreError::Storage("the transaction was aborted".into()))
    }
}

/// The version of an existing database, opened without upgrading it.
async fn existing_version(name: &str) -> Option<u32> {
    let db = Rexie::builder(name).build().await.ok()?;
    let version = db.version().ok();
    db.close();
    version
}

/// Runs the data migrations this database has not had yet (see [`crate::schema`]).
async fn migrate(db: &Rexie) -> Result<(), StoreError> {
    let tx = db.transaction(&[RECORDS, OUTBOX, META], TransactionMode::ReadWrite)?;
    let meta = tx.store(META)?;
    let version = match meta.get(META_DATA_VERSION.into()).await? {
        Some(raw) => raw
            .as_f64()
            .map(|v| v as u32)
            .ok_or_else(|| StoreError::Corrupt {
                collection: META.into(),
                id: META_DATA_VERSION.into(),
                reason: "not a number".into(),
            })?,
        // Version 1 did not record its data version.
        None => 1,
    };
    if version > schema::DATA_VERSION {
        return Err(StoreError::NewerSchema {
            found: version,
            supported: schema::DATA_VERSION,
        });
    }
    if version == schema::DATA_VERSION {
        return Ok(());
    }
    for migration in schema::MIGRATIONS.iter().filter(|m| m.to > version) {
        run_migration(migration.to, &tx).await?;
        meta.put(
            &JsValue::from(migration.to),
            Some(&META_DATA_VERSION.into()),
        )
        .await?;
    }
    commit(tx).await
}

/// The code of each data migration. Each is idempotent.
async fn run_migration(to: u32, tx: &Transaction) -> Result<(), StoreError> {
    match to {
        2 => {
            // Queue every record written before the outbox existed. Records that do not
            // decode are left for `load_collection` to quarantine.
            let (records, outbox) = (tx.store(RECORDS)?, tx.store(OUTBOX)?);
            for raw in records.get_all(None, None).await? {
                if let Ok(record) = from_js::<JsRecord>(raw) {
                    let entry = OutboxEntry::replay(&record);
                    outbox.put(&to_js(&entry)?, None).await?;
                }
            }
            Ok(())
        }
        other => unreachable!("no code for data migration {other}"),
    }
}

/// Loads this device's id (creating it on first open) and makes this context's clock,
/// past the device's stored clock. Also the stored offset to the server's clock.
async fn load_or_create_clock(db: &Rexie) -> Result<(HlcClock, i64), StoreError> {
    let tx = db.transaction(&[META], TransactionMode::ReadWrite)?;
    let meta = tx.store(META)?;
    let corrupt = |id: &str, reason: String| StoreError::Corrupt {
        collection: META.into(),
        id: id.into(),
        reason,
    };
    let device = match meta.get(META_DEVICE_ID.into()).await? {
        Some(raw) => from_js::<DeviceId>(raw).map_err(|r| corrupt(META_DEVICE_ID, r))?,
        None => {
            let device = DeviceId::from_random(random_u64()?);
            meta.put(&to_js(&device)?, Some(&META_DEVICE_ID.into()))
                .await?;
            device
        }
    };
    let mut clock = HlcClock::new(context_clock_id(&device)?);
    if let Some(raw) = meta.get(META_CLOCK.into()).await? {
        clock.catch_up(&from_js::<Hlc>(raw).map_err(|r| corrupt(META_CLOCK, r))?);
    }
    let offset = match meta.get(META_CLOCK_OFFSET.into()).await? {
        Some(raw) => raw.as_f64().unwrap_or(0.0) as i64,
        None => 0,
    };
    commit(tx).await?;
    Ok((clock, offset))
}

/// Moves undecodable rows of `collection` from `records` to `quarantine`, kept as they
/// were with the reason, in one transaction.
async fn quarantine(
    db: &Rexie,
    collection: &str,
    bad: Vec<(JsValue, String)>,
) -> Result<Vec<Quarantined>, StoreError> {
    let tx = db.transaction(&[RECORDS, OUTBOX, QUARANTINE], TransactionMode::ReadWrite)?;
    let (records, quarantine) = (tx.store(RECORDS)?, tx.store(QUARANTINE)?);
    let outbox = tx.store(OUTBOX)?;
    let mut moved = Vec::new();
    for (raw, reason) in bad {
        let id = string_field(&raw, "id").unwrap_or_default();
        let key = RecordKey::new(collection, id.clone());
        let entry = js_sys::Object::new();
        for (field, value) in [
            ("collection", JsValue::from_str(collection)),
            ("id", JsValue::from_str(&id)),
            ("reason", JsValue::from_str(&reason)),
            ("quarantined_at_ms", JsValue::from(now_ms() as f64)),
            ("raw", raw),
        ] {
            js_sys::Reflect::set(&entry, &field.into(), &value)
                .map_err(|e| StoreError::Encode(format!("{e:?}")))?;
        }
        quarantine.put(&entry, None).await?;
        records.delete(key_js(&key)).await?;
        // Its change cannot be pushed without the record: the quarantine keeps it.
        outbox.delete(key_js(&key)).await?;
        moved.push(Quarantined {
            collection: collection.into(),
            id,
            reason,
        });
    }
    commit(tx).await?;
    Ok(moved)
}

/// The IndexedDB key of a record (and of its outbox entry and set-aside row):
/// `[collection, id]`.
pub(crate) fn key_js(key: &RecordKey) -> JsValue {
    js_sys::Array::of2(
        &JsValue::from_str(&key.collection),
        &JsValue::from_str(&key.id),
    )
    .into()
}

/// The IndexedDB key of a logged conflict: `[collection, id, lost clock]`.
fn conflict_key_js((key, lost): &(RecordKey, Hlc)) -> JsValue {
    js_sys::Array::of3(
        &JsValue::from_str(&key.collection),
        &JsValue::from_str(&key.id),
        &JsValue::from_str(&lost.to_string()),
    )
    .into()
}

/// All keys `[collection, *]`: strings sort before arrays in IndexedDB's key order.
fn collection_range(collection: &str) -> Result<KeyRange, StoreError> {
    let c = JsValue::from_str(collection);
    let lower = js_sys::Array::of2(&c, &JsValue::from_str(""));
    let upper = js_sys::Array::of2(&c, &js_sys::Array::new());
    KeyRange::bound(&lower, &upper, Some(false), Some(true))
        .map_err(|e| StoreError::Storage(e.to_string()))
}
