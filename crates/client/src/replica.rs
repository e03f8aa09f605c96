//! The store's side of sync: what the sync loop reads from and writes to IndexedDB.
//!
//! Records from elsewhere (a pull page, the winners named in a push reply) are applied by
//! the merge rule in ONE transaction per batch, together with the conflict log, the outbox
//! and the pull position, so a crash part-way leaves either the whole batch or none of it.
//! Both backends (IndexedDB and memory) share the decision logic in
//! [`cairn_protocol::reconcile`]; only the reading and writing differ.

use std::collections::{BTreeMap, BTreeSet};

use cairn_protocol::backup::LocalChange;
use cairn_protocol::three_way::{resolve, Logged, Resolution, Side, Version};
use cairn_protocol::{
    merge, reconcile, ConflictKind, Hlc, Merge, Pending, Reconcile, Record, RecordKey,
};
use futures_util::future::{try_join_all, LocalBoxFuture};
use rexie::TransactionMode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::codec::{from_js, now_ms, string_field, to_js};
use crate::js_record::{self, conflict_row, JsRecord};
use crate::key_batch;
use crate::schema::{CONFLICTS, META, META_CLOCK, OUTBOX, RECORDS, SET_ASIDE};
use crate::store::{commit, key_js, Backend, MadeFrom, OutboxEntry, Store};
use crate::sync::StoredConflict;
use crate::StoreError;

/// What applying a batch of incoming records did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied<R = Record> {
    /// Records now current that were not before (to show).
    pub changed: Vec<R>,
    /// Versions that lost (overwritten) and went to the conflict log.
    pub conflicts: usize,
    /// Pending changes merged with a concurrent version, nothing lost (logged as merged).
    pub merges: usize,
    /// New local changes made by combining a pending change with a concurrent version:
    /// they wait to be pushed.
    pub rebased: usize,
}

impl<R> Default for Applied<R> {
    fn default() -> Self {
        Applied {
            changed: Vec::new(),
            conflicts: 0,
            merges: 0,
            rebased: 0,
        }
    }
}

impl Applied<JsRecord> {
    fn decoded(self) -> Result<Applied, StoreError> {
        Ok(Applied {
            changed: js_record::decode_all(&self.changed)?,
            conflicts: self.conflicts,
            merges: self.merges,
            rebased: self.rebased,
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

    /// The current records for `entries` (outbox entries), in order, each with the base
    /// to push it with ([`OutboxEntry::push_base`]), read in one transaction. An entry
    /// whose record is gone is skipped.
    pub(crate) async fn records_for(
        &self,
        entries: &[OutboxEntry],
    ) -> Result<Vec<(JsRecord, Option<Hlc>)>, StoreError> {
        let keys: Vec<RecordKey> = entries.iter().map(OutboxEntry::key).collect();
        let rows: Vec<Option<JsRecord>> = match &self.backend {
            Backend::Memory(_, mem) => {
                let mem = mem.borrow();
                keys.iter().map(|k| mem.records.get(k).cloned()).collect()
            }
            Backend::Idb(db, _) => {
                let tx = db.transaction(&[RECORDS], TransactionMode::ReadOnly)?;
                let raws = key_batch::read(&tx.store(RECORDS)?, &keys).await?.rows;
                keys.iter()
                    .zip(raws)
                    .map(|(key, raw)| {
                        raw.map(|raw| {
                            from_js::<JsRecord>(raw).map_err(|reason| StoreError::Corrupt {
                                collection: key.collection.clone(),
                                id: key.id.clone(),
                                reason,
                            })
                        })
                        .transpose()
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(rows
            .into_iter()
            .zip(entries)
            .filter_map(|(row, entry)| Some((row?, entry.push_base().cloned())))
            .collect())
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
        // Every record that may be stored here moves the clock past it, however far
        // ahead (the server bounds how far): a later local edit of it must win. Past the
        // device's stored clock too (read in the transaction below), which is then stored.
        let witness = |stored: Option<Hlc>| -> Result<(), StoreError> {
            let (mut clock, physical) = (self.clock.borrow_mut(), self.now());
            if let Some(stored) = &stored {
                clock.catch_up(stored);
            }
            for record in incoming {
                clock.witness(&record.hlc, physical)?;
            }
            Ok(())
        };
        let mut applied = Applied::default();
        match &self.backend {
            Backend::Memory(_, mem) => {
                witness(None)?;
                let mut mem = mem.borrow_mut();
                for record in acknowledged {
                    let key = record.key();
                    let unchanged = mem.outbox.get(&key).map(|e| e.hlc == record.hlc);
                    match (unchanged, mem.outbox.get_mut(&key)) {
                        (Some(true), _) => {
                            mem.outbox.remove(&key);
                        }
                        // Changed again meanwhile: that change was made after this one.
                        (_, Some(entry)) => made_after(entry, record),
                        _ => {}
                    }
                }
                for record in incoming {
                    let key = record.key();
                    let step = self.step(
                        mem.records.get(&key),
                        mem.outbox.get(&key),
                        mem.set_aside.contains_key(&key),
                        record,
                        queue,
                        &mut applied,
                    )?;
                    if let Some(row) = step.conflict {
                        let lost = from_js::<StoredConflict>(row.clone())
                            .map(|c| c.lost_hlc)
                            .unwrap_or_else(|_| record.hlc.clone());
                        mem.conflicts.insert((key.clone(), lost), row);
                    }
                    match step.entry {
                        EntryStep::Keep => {}
                        EntryStep::Drop => {
                            mem.outbox.remove(&key);
                        }
                        EntryStep::Put(entry) => {
                            mem.outbox.insert(key.clone(), entry);
                        }
                    }
                    if step.clear_aside {
                        mem.set_aside.remove(&key);
                    }
                    if let Some(stored) = step.record {
                        mem.records.insert(key, stored);
                    }
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
                witness(stored.and_then(|raw| from_js::<Hlc>(raw).ok()))?;

                // Every read is issued at once (or as one range): one round trip per
                // batch, not per record.
                let acked_keys: Vec<RecordKey> = acknowledged.iter().map(|r| r.key()).collect();
                let acked = key_batch::read(&outbox, &acked_keys).await?;
                let (mut deletes, mut rebased) = (Vec::new(), Vec::new());
                // What the outbox holds for a key now, as far as this batch changed it.
                let mut entries: BTreeMap<RecordKey, Option<OutboxEntry>> = BTreeMap::new();
                for (record, entry) in acknowledged.iter().zip(acked.rows) {
                    let Some(mut entry) = entry.and_then(|e| from_js::<OutboxEntry>(e).ok()) else {
                        continue;
                    };
                    if entry.hlc == record.hlc {
                        if !matches!(entries.insert(record.key(), None), Some(None)) {
                            deletes.push(record.key());
                        }
                    } else {
                        // Changed again meanwhile: that change was made after this one.
                        made_after(&mut entry, record);
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
                for (((record, local), pending), aside) in
                    incoming.iter().zip(locals).zip(pendings).zip(asides)
                {
                    let key = record.key();
                    let entry = match entries.get(&key) {
                        Some(entry) => entry.clone(),
                        None => pending.and_then(|raw| from_js::<OutboxEntry>(raw).ok()),
                    };
                    // Fast path: a version this device already has (its own change coming
                    // back, a retried pull), or an older one with nothing pending, is
                    // decided on the stored clock alone, without decoding the stored row.
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
                    let (local, aside) = seen.remove(&key).unwrap_or_else(|| {
                        (local.and_then(|raw| from_js::<JsRecord>(raw).ok()), aside)
                    });
                    let step = self.step(
                        local.as_ref(),
                        entry.as_ref(),
                        aside,
                        record,
                        queue,
                        &mut applied,
                    )?;
                    if let Some(row) = step.conflict {
                        puts.push((CONFLICTS, row));
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
                            puts.push((RECORDS, to_js(&stored)?));
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
                try_join_all(puts.iter().map(|(store, value)| {
                    let store = match *store {
                        RECORDS => &records,
                        OUTBOX => &outbox,
                        _ => &conflicts,
                    };
                    store.put(value, None)
                }))
                .await?;
                // After any change made here from a concurrent pair.
                let clock = self.clock.borrow().last().clone();
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

    /// What applying `incoming` does, given the device's version `local`, its outbox
    /// `entry` and whether a change of it is set aside (`aside`); `queue` queues a
    /// version taken for sync (as it is). Counts what it shows and logs in `applied`.
    fn step(
        &self,
        local: Option<&JsRecord>,
        entry: Option<&OutboxEntry>,
        aside: bool,
        incoming: &JsRecord,
        queue: bool,
        applied: &mut Applied<JsRecord>,
    ) -> Result<Step, StoreError> {
        let pending = match entry {
            Some(entry) => entry.pending(),
            // A set-aside change is a local change too: it must not be lost silently.
            None if aside => Pending::Replay,
            None => Pending::No,
        };
        let own = self.is_own_clock(&incoming.hlc);
        let taken = |entry: EntryStep, conflict: Option<JsValue>, applied: &mut Applied<_>| {
            applied.changed.push(incoming.clone());
            Step {
                record: Some(incoming.clone()),
                entry: if queue {
                    EntryStep::Put(OutboxEntry::replay(incoming))
                } else {
                    entry
                },
                conflict,
                clear_aside: aside,
            }
        };
        Ok(match reconcile(local, pending, incoming, own) {
            Reconcile::Apply => {
                // An entry without its record (left by an older version) has nothing to
                // push: drop it rather than push whatever comes next.
                let entry = match (entry, local) {
                    (Some(_), None) => EntryStep::Drop,
                    _ => EntryStep::Keep,
                };
                taken(entry, None, applied)
            }
            Reconcile::ApplyOverPending { loser } => {
                applied.conflicts += 1;
                let row = conflict_row(incoming, &loser, now_ms(), ConflictKind::Overwritten)?;
                taken(EntryStep::Drop, Some(row), applied)
            }
            Reconcile::KeepPending | Reconcile::Ignore => Step::default(),
            Reconcile::Advance => {
                let mut entry = entry.expect("an advanced change is pending").clone();
                made_after(&mut entry, incoming);
                Step {
                    entry: EntryStep::Put(entry),
                    ..Step::default()
                }
            }
            Reconcile::Concurrent { local } => {
                let entry = entry.expect("a concurrent change is pending");
                let mut step = self.resolve_concurrent(&local, entry, incoming, applied)?;
                if queue && step.entry == EntryStep::Drop {
                    step.entry = EntryStep::Put(OutboxEntry::replay(incoming));
                }
                step
            }
        })
    }

    /// Combines the pending change `local` (of outbox `entry`) with `incoming`, made
    /// without knowing it, by the collection's merge rule: either `incoming` stands, or
    /// the result becomes a new local change made from `incoming`, so that it reaches
    /// every replica. What either side loses, and what was merged, is logged.
    fn resolve_concurrent(
        &self,
        local: &JsRecord,
        entry: &OutboxEntry,
        incoming: &JsRecord,
        applied: &mut Applied<JsRecord>,
    ) -> Result<Step, StoreError> {
        let (mine, theirs) = (local.decode()?, incoming.decode()?);
        let base = entry.base.as_ref().map(JsRecord::decode).transpose()?;
        let resolution = resolve(
            self.merge_rules.borrow().rule(&local.collection),
            base.as_ref().map(Version::from),
            Version::from(&mine),
            Version::from(&theirs),
        );
        let now = now_ms();
        let (stored, outbox, logged) = match resolution {
            Resolution::TakeIncoming { logged } => (incoming.clone(), EntryStep::Drop, logged),
            Resolution::Rebase { value, logged } => {
                let hlc = self.clock.borrow_mut().tick(self.now())?;
                let key = local.key();
                let record = match value {
                    Some(value) => Record::new(key.clone(), value, hlc),
                    None => Record::tombstone(key.clone(), hlc),
                };
                let record = JsRecord::from_record(&record)?;
                let entry =
                    OutboxEntry::made_from(&key, &record.hlc, MadeFrom::Version(incoming.clone()));
                applied.rebased += 1;
                (record, EntryStep::Put(entry), logged)
            }
        };
        let conflict = match logged {
            Some(Logged { version, kind }) => {
                match kind {
                    ConflictKind::Merged => applied.merges += 1,
                    ConflictKind::Overwritten => applied.conflicts += 1,
                }
                let loser = match version {
                    Side::Local => local,
                    Side::Incoming => incoming,
                };
                Some(conflict_row(&stored, loser, now, kind)?)
            }
            None => None,
        };
        applied.changed.push(stored.clone());
        Ok(Step {
            record: Some(stored),
            entry: outbox,
            conflict,
            clear_aside: false,
        })
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
            ConflictKind::Overwritten,
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
    /// Each is re-sent as it is (a replay, merged by clock alone): the server lost it,
    /// or never had it.
    pub(crate) async fn queue_everything(&self) -> Result<usize, StoreError> {
        let entry = OutboxEntry::replay;
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

/// What applying one incoming record does to the device's rows.
#[derive(Default)]
struct Step {
    /// The version to store, if it changes.
    record: Option<JsRecord>,
    entry: EntryStep,
    /// A conflict-log row to add.
    conflict: Option<JsValue>,
    /// The record's set-aside change leaves that list.
    clear_aside: bool,
}

/// What happens to a record's outbox entry.
#[derive(Debug, Default, PartialEq)]
enum EntryStep {
    #[default]
    Keep,
    Drop,
    Put(OutboxEntry),
}

/// Records in `entry` that its change was made after `version` (this device's own, now
/// on the server): `version` becomes its base.
fn made_after(entry: &mut OutboxEntry, version: &JsRecord) {
    entry.base = Some(version.clone());
    entry.created = false;
}

impl StoredConflict {
    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.collection.clone(), self.id.clone())
    }
}
