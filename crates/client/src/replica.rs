//! The store's side of sync: what the sync loop reads from and writes to IndexedDB.
//!
//! Records from elsewhere (a pull page, the winners named in a push reply) are applied by
//! the merge rule in ONE transaction per batch, together with the conflict log, the outbox
//! and the pull position, so a crash part-way leaves either the whole batch or none of it.
//! Both backends (IndexedDB and memory) share the decision logic in
//! [`cairn_protocol::reconcile`]; only the reading and writing differ.

use std::collections::BTreeSet;

use cairn_protocol::backup::LocalChange;
use cairn_protocol::{merge, reconcile, Hlc, Merge, Reconcile, Record, RecordKey};
use futures_util::future::{try_join_all, LocalBoxFuture};
use rexie::TransactionMode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::codec::{from_js, now_ms, string_field, to_js};
use crate::js_record::{self, conflict_row, JsRecord};
use crate::schema::{CONFLICTS, META, META_CLOCK, OUTBOX, RECORDS, SET_ASIDE};
use crate::store::{commit, key_js, Backend, OutboxEntry, Store};
use crate::sync::StoredConflict;
use crate::StoreError;

/// What applying a batch of incoming records did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied<R = Record> {
    /// Records now current that were not before (to show).
    pub changed: Vec<R>,
    /// Local changes that lost and went to the conflict log.
    pub conflicts: usize,
}

impl<R> Default for Applied<R> {
    fn default() -> Self {
        Applied {
            changed: Vec::new(),
            conflicts: 0,
        }
    }
}

impl Applied<JsRecord> {
    fn decoded(self) -> Result<Applied, StoreError> {
        Ok(Applied {
            changed: js_record::decode_all(&self.changed)?,
            conflicts: self.conflicts,
        })
    }
}

impl Store {
    /// A value kept in `meta` (session, pull position, last sync), if set and readable.
    pub(crate) async fn meta<T: DeserializeOwned>(
        &self,
        key: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let raw = match &self.backend {
            Backend::Memory(_, mem) => mem.borrow().meta.get(key).cloned(),
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[META], TransactionMode::ReadOnly)?;
                tx.store(META)?.get(key.into()).await?
            }
        };
        // An unreadable value is treated as unset: each of these can be rebuilt (sign in
        // again, pull from the start), which beats refusing to sync at all.
        Ok(raw.and_then(|raw| from_js(raw).ok()))
    }

    /// Sets (`Some`) or clears (`None`) a value in `meta`.
    pub(crate) async fn set_meta<T: Serialize>(
        &self,
        key: &'static str,
        value: Option<&T>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Memory(_, mem) => {
                let mut mem = mem.borrow_mut();
                match value {
                    Some(v) => {
                        mem.meta.insert(key, to_js(v)?);
                    }
                    None => {
                        mem.meta.remove(key);
                    }
                }
                Ok(())
            }
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[META], TransactionMode::ReadWrite)?;
                let meta = tx.store(META)?;
                match value {
                    Some(v) => {
                        meta.put(&to_js(v)?, Some(&key.into())).await?;
                    }
                    None => meta.delete(key.into()).await?,
                }
                commit(tx).await
            }
        }
    }

    /// How many local changes wait to be pushed.
    pub async fn pending_count(&self) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Memory(_, mem) => Ok(mem.borrow().outbox.len()),
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[OUTBOX], TransactionMode::ReadOnly)?;
                Ok(tx.store(OUTBOX)?.count(None).await? as usize)
            }
        }
    }

    /// The current records for `entries` (outbox entries), in order, read in one
    /// transaction. An entry whose record is gone is skipped.
    pub(crate) async fn records_for(
        &self,
        entries: &[OutboxEntry],
    ) -> Result<Vec<JsRecord>, StoreError> {
        let keys: Vec<RecordKey> = entries
            .iter()
            .map(|e| RecordKey::new(e.collection.clone(), e.id.clone()))
            .collect();
        match &self.backend {
            Backend::Memory(_, mem) => {
                let mem = mem.borrow();
                Ok(keys
                    .iter()
                    .filter_map(|k| mem.records.get(k).cloned())
                    .collect())
            }
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[RECORDS], TransactionMode::ReadOnly)?;
                let store = tx.store(RECORDS)?;
                let raws = try_join_all(keys.iter().map(|k| store.get(key_js(k)))).await?;
                let mut records = Vec::with_capacity(raws.len());
                for (key, raw) in keys.iter().zip(raws) {
                    if let Some(raw) = raw {
                        records.push(from_js::<JsRecord>(raw).map_err(|reason| {
                            StoreError::Corrupt {
                                collection: key.collection.clone(),
                                id: key.id.clone(),
                                reason,
                            }
                        })?);
                    }
                }
                Ok(records)
            }
        }
    }

    /// After a push of `pushed`: drops from the outbox each pushed change that the server took (or
    /// already had) and that was not changed again meanwhile, then reconciles the winners
    /// the server named for the changes it did not take. One transaction.
    pub async fn acknowledge_push(
        &self,
        pushed: &[Record],
        superseded: &[Record],
    ) -> Result<Applied, StoreError> {
        let pushed = js_record::from_records(pushed)?;
        let superseded = js_record::from_records(superseded)?;
        self.acknowledge_push_at(&pushed, &superseded, None)
            .await?
            .decoded()
    }

    /// [`Store::acknowledge_push`] for records as the sync loop holds them, also storing
    /// a new pull position (in `meta` at its key) in the same transaction.
    pub(crate) async fn acknowledge_push_at(
        &self,
        pushed: &[JsRecord],
        superseded: &[JsRecord],
        cursor: Option<(&'static str, JsValue)>,
    ) -> Result<Applied<JsRecord>, StoreError> {
        let lost: BTreeSet<RecordKey> = superseded.iter().map(JsRecord::key).collect();
        let done: Vec<&JsRecord> = pushed.iter().filter(|r| !lost.contains(&r.key())).collect();
        self.apply(&done, superseded, cursor, false).await
    }

    /// Applies records from elsewhere by the merge rule, in one transaction: a local
    /// change still in the outbox that loses goes to the conflict log.
    pub async fn apply_remote(&self, records: &[Record]) -> Result<Applied, StoreError> {
        let records = js_record::from_records(records)?;
        self.apply(&[], &records, None, false).await?.decoded()
    }

    /// [`Store::apply_remote`] for records that this device must pass on (a restored
    /// backup): each one that wins is also queued for sync, keeping its clock.
    pub async fn apply_and_queue(&self, records: &[Record]) -> Result<Applied, StoreError> {
        let records = js_record::from_records(records)?;
        self.apply(&[], &records, None, true).await?.decoded()
    }

    /// [`Store::apply_remote`] for a pull page, storing `cursor` (in `meta` at its key)
    /// in the same transaction.
    pub(crate) async fn apply_pulled<C: Serialize>(
        &self,
        records: &[JsRecord],
        cursor: (&'static str, &C),
    ) -> Result<Applied<JsRecord>, StoreError> {
        self.apply(&[], records, Some((cursor.0, to_js(cursor.1)?)), false)
            .await
    }

    /// In one transaction: removes the outbox entries of `acknowledged` whose clock is
    /// unchanged, reconciles `incoming` (queuing each winner for sync when `queue`), moves
    /// the clock past it, and stores `cursor`. Boxed: every caller shares one copy of this
    /// large state machine in the wasm.
    fn apply<'s>(
        &'s self,
        acknowledged: &'s [&'s JsRecord],
        incoming: &'s [JsRecord],
        cursor: Option<(&'static str, JsValue)>,
        queue: bool,
    ) -> LocalBoxFuture<'s, Result<Applied<JsRecord>, StoreError>> {
        Box::pin(self.apply_now(acknowledged, incoming, cursor, queue))
    }

    async fn apply_now(
        &self,
        acknowledged: &[&JsRecord],
        incoming: &[JsRecord],
        cursor: Option<(&'static str, JsValue)>,
        queue: bool,
    ) -> Result<Applied<JsRecord>, StoreError> {
        let now = now_ms();
        // Every record that may be stored here moves the clock past it, however far
        // ahead (the server bounds how far): a later local edit of it must win. Past the
        // device's stored clock too (read in the transaction below), which is then stored.
        let witness = |stored: Option<Hlc>| -> Result<Hlc, StoreError> {
            let (mut clock, physical) = (self.clock.borrow_mut(), self.now());
            if let Some(stored) = &stored {
                clock.catch_up(stored);
            }
            for record in incoming {
                clock.witness(&record.hlc, physical)?;
            }
            Ok(clock.last().clone())
        };
        let entry = |r: &JsRecord| OutboxEntry {
            collection: r.collection.clone(),
            id: r.id.clone(),
            hlc: r.hlc.clone(),
            queued_at_ms: now,
        };
        let mut applied = Applied::default();
        match &self.backend {
            Backend::Memory(_, mem) => {
                witness(None)?;
                let mut mem = mem.borrow_mut();
                for record in acknowledged {
                    if mem
                        .outbox
                        .get(&record.key())
                        .is_some_and(|e| e.hlc == record.hlc)
                    {
                        mem.outbox.remove(&record.key());
                    }
                }
                for record in incoming {
                    let key = record.key();
                    if !mem.records.contains_key(&key) {
                        // An entry without its record has nothing to push.
                        mem.outbox.remove(&key);
                    }
                    let pending = mem.outbox.contains_key(&key) || mem.set_aside.contains_key(&key);
                    match reconcile(mem.records.get(&key), pending, record) {
                        Reconcile::Apply => {}
                        Reconcile::ApplyOverPending { loser } => {
                            let row = conflict_row(record, &loser, now)?;
                            mem.conflicts.insert((key.clone(), loser.hlc), row);
                            mem.outbox.remove(&key);
                            mem.set_aside.remove(&key);
                            applied.conflicts += 1;
                        }
                        Reconcile::KeepPending | Reconcile::Ignore => continue,
                    }
                    if queue {
                        mem.outbox.insert(key.clone(), entry(record));
                    }
                    mem.records.insert(key, record.clone());
                    applied.changed.push(record.clone());
                }
                if let Some((key, cursor)) = cursor {
                    mem.meta.insert(key, cursor);
                }
                return Ok(applied);
            }
            Backend::Idb(db, _) => {
                let tx = db.transaction(
                    &[RECORDS, OUTBOX, CONFLICTS, META, SET_ASIDE],
                    TransactionMode::ReadWrite,
                )?;
                let (records, outbox) = (tx.store(RECORDS)?, tx.store(OUTBOX)?);
                let (conflicts, meta) = (tx.store(CONFLICTS)?, tx.store(META)?);
                let set_aside = tx.store(SET_ASIDE)?;
                let stored = meta.get(JsValue::from_str(META_CLOCK)).await?;
                let clock = witness(stored.and_then(|raw| from_js::<Hlc>(raw).ok()))?;

                // Every read is issued at once: one round trip per batch, not per record.
                let acked_entries =
                    try_join_all(acknowledged.iter().map(|r| outbox.get(key_js(&r.key())))).await?;
                let mut removals = Vec::new();
                let mut removed = BTreeSet::new();
                for (record, entry) in acknowledged.iter().zip(acked_entries) {
                    let entry = entry.and_then(|e| from_js::<OutboxEntry>(e).ok());
                    if entry.is_some_and(|e| e.hlc == record.hlc) {
                        removals.push(outbox.delete(key_js(&record.key())));
                        removed.insert(record.key());
                    }
                }
                try_join_all(removals).await?;

                let keys: Vec<JsValue> = incoming.iter().map(|r| key_js(&r.key())).collect();
                let (locals, pendings, asides) = futures_util::future::try_join3(
                    try_join_all(keys.iter().map(|k| records.get(k.clone()))),
                    try_join_all(keys.iter().map(|k| outbox.key_exists(k.clone()))),
                    try_join_all(keys.iter().map(|k| set_aside.key_exists(k.clone()))),
                )
                .await?;
                let mut writes = Vec::new();
                // Later records of the same key in one batch see earlier ones.
                let mut seen: std::collections::BTreeMap<RecordKey, (Option<JsRecord>, bool)> =
                    Default::default();
                for (((record, local), pending), aside) in
                    incoming.iter().zip(locals).zip(pendings).zip(asides)
                {
                    let key = record.key();
                    if local.is_none() && pending && !seen.contains_key(&key) {
                        // An entry without its record (left by an older version) has
                        // nothing to push: drop it rather than push whatever comes next.
                        outbox.delete(key_js(&key)).await?;
                        removed.insert(key.clone());
                    }
                    // A set-aside change is a local change too: it must not be lost silently.
                    let pending = pending || aside;
                    // Fast path: a version this device already has (its own change coming
                    // back, a retried pull) or an older one is decided on the stored clock
                    // alone, without decoding the stored record.
                    if !seen.contains_key(&key) {
                        let held = local
                            .as_ref()
                            .and_then(|raw| string_field(raw, "hlc"))
                            .and_then(|hlc| hlc.parse::<Hlc>().ok());
                        if held.is_some() && merge(held.as_ref(), &record.hlc) != Merge::Take {
                            continue;
                        }
                    }
                    let (local, pending) = seen.remove(&key).unwrap_or_else(|| {
                        let local = local.and_then(|raw| from_js::<JsRecord>(raw).ok());
                        (local, pending && !removed.contains(&key))
                    });
                    let still_pending = match reconcile(local.as_ref(), pending, record) {
                        Reconcile::Apply => pending,
                        Reconcile::ApplyOverPending { loser } => {
                            writes.push((CONFLICTS, conflict_row(record, &loser, now)?));
                            if !queue {
                                outbox.delete(key_js(&key)).await?;
                            }
                            set_aside.delete(key_js(&key)).await?;
                            applied.conflicts += 1;
                            false
                        }
                        Reconcile::KeepPending | Reconcile::Ignore => {
                            seen.insert(key, (local, pending));
                            continue;
                        }
                    };
                    writes.push((RECORDS, to_js(record)?));
                    if queue {
                        writes.push((OUTBOX, to_js(&entry(record))?));
                    }
                    applied.changed.push(record.clone());
                    seen.insert(key, (Some(record.clone()), queue || still_pending));
                }
                try_join_all(writes.iter().map(|(store, value)| {
                    let store = match *store {
                        RECORDS => &records,
                        OUTBOX => &outbox,
                        _ => &conflicts,
                    };
                    store.put(value, None)
                }))
                .await?;
                meta.put(&to_js(&clock)?, Some(&JsValue::from_str(META_CLOCK)))
                    .await?;
                if let Some((key, cursor)) = cursor {
                    meta.put(&cursor, Some(&key.into())).await?;
                }
                commit(tx).await?;
            }
        }
        self.announce(
            applied
                .changed
                .iter()
                .map(|r| (r.collection.as_str(), r.id.as_str(), &r.hlc)),
        );
        Ok(applied)
    }

    /// Writes `value` at `key` as a local change (like [`Store::write`]) that knowingly
    /// replaces `replaced`, a version from elsewhere that arrived while the change was
    /// being typed: that version goes to the conflict log in the same transaction, so it
    /// is never overwritten silently.
    pub async fn write_replacing(
        &self,
        key: RecordKey,
        value: serde_json::Value,
        replaced: Option<&Record>,
    ) -> Result<Record, StoreError> {
        let mut written = self
            .commit_local(vec![LocalChange::Put(key, value)], replaced)
            .await?;
        Ok(written.remove(0))
    }

    /// Logs that `winner`, a local change already stored, replaced `loser`.
    pub async fn log_replaced(&self, winner: &Record, loser: &Record) -> Result<(), StoreError> {
        let row = conflict_row(
            &JsRecord::from_record(winner)?,
            &JsRecord::from_record(loser)?,
            now_ms(),
        )?;
        match &self.backend {
            Backend::Memory(_, mem) => {
                mem.borrow_mut()
                    .conflicts
                    .insert((loser.key(), loser.hlc.clone()), row);
                Ok(())
            }
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[CONFLICTS], TransactionMode::ReadWrite)?;
                tx.store(CONFLICTS)?.put(&row, None).await?;
                commit(tx).await
            }
        }
    }

    /// Every logged conflict, newest first.
    pub async fn conflicts(&self) -> Result<Vec<StoredConflict>, StoreError> {
        let mut all = match &self.backend {
            Backend::Memory(_, mem) => mem.borrow().conflicts.values().cloned().collect(),
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[CONFLICTS], TransactionMode::ReadOnly)?;
                tx.store(CONFLICTS)?.get_all(None, None).await?
            }
        }
        .into_iter()
        .filter_map(|raw| from_js::<StoredConflict>(raw).ok())
        .collect::<Vec<_>>();
        all.sort_by_key(|c| std::cmp::Reverse(c.conflict.detected_at_ms));
        Ok(all)
    }

    /// Makes the losing version of a conflict current again, as a new local change (so it
    /// syncs and wins), and removes the conflict from the log.
    pub async fn restore_conflict(&self, conflict: &StoredConflict) -> Result<Record, StoreError> {
        let loser = &conflict.conflict.loser;
        let restored = if loser.deleted {
            self.delete(loser.key()).await?
        } else {
            self.write(loser.key(), loser.value.clone()).await?
        };
        self.dismiss_conflict(conflict).await?;
        Ok(restored)
    }

    /// Removes a conflict from the log, keeping the current version.
    pub async fn dismiss_conflict(&self, conflict: &StoredConflict) -> Result<(), StoreError> {
        let key = (conflict.key(), conflict.lost_hlc.clone());
        match &self.backend {
            Backend::Memory(_, mem) => {
                mem.borrow_mut().conflicts.remove(&key);
                Ok(())
            }
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[CONFLICTS], TransactionMode::ReadWrite)?;
                let js_key = js_sys::Array::of3(
                    &JsValue::from_str(&key.0.collection),
                    &JsValue::from_str(&key.0.id),
                    &JsValue::from_str(&key.1.to_string()),
                );
                tx.store(CONFLICTS)?.delete(js_key.into()).await?;
                commit(tx).await
            }
        }
    }

    /// Queues every stored record for pushing (one transaction): after signing in to an
    /// account this device has not synced with, so that account gets this device's data.
    pub(crate) async fn queue_everything(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        let entry = |r: &JsRecord| OutboxEntry {
            collection: r.collection.clone(),
            id: r.id.clone(),
            hlc: r.hlc.clone(),
            queued_at_ms: now,
        };
        match &self.backend {
            Backend::Memory(_, mem) => {
                let mut mem = mem.borrow_mut();
                let entries: Vec<_> = mem.records.values().map(|r| (r.key(), entry(r))).collect();
                let n = entries.len();
                mem.outbox.extend(entries);
                Ok(n)
            }
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[RECORDS, OUTBOX], TransactionMode::ReadWrite)?;
                let outbox = tx.store(OUTBOX)?;
                let rows: Vec<JsValue> = tx
                    .store(RECORDS)?
                    .get_all(None, None)
                    .await?
                    .into_iter()
                    .filter_map(|raw| from_js::<JsRecord>(raw).ok())
                    .map(|r| to_js(&entry(&r)))
                    .collect::<Result<_, _>>()?;
                try_join_all(rows.iter().map(|row| outbox.put(row, None))).await?;
                commit(tx).await?;
                Ok(rows.len())
            }
        }
    }
}

impl StoredConflict {
    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.collection.clone(), self.id.clone())
    }
}
