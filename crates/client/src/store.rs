//! The store: every record of the app, the outbox of changes to sync, and the device's
//! identity and clock.
//!
//! A local write ([`Store::write`], [`Store::delete`]) stamps the change with the next
//! clock value and stores, in ONE readwrite transaction, the record, its outbox entry and
//! the clock (the transactional outbox). It resolves only once the transaction committed;
//! if it fails, nothing of it is stored and the caller gets the error. The outbox holds one
//! entry per record, so repeated writes to a record coalesce into its latest change.
//!
//! The store is IndexedDB (through rexie) or, where IndexedDB cannot be opened, memory
//! ([`Durability::MemoryOnly`]): the app keeps working and can warn that changes will not
//! be kept.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use cairn_protocol::backup::LocalChange;
use cairn_protocol::{DeviceId, Hlc, HlcClock, MergeRules, Pending, Record, RecordKey};
use rexie::{KeyRange, Rexie, Transaction, TransactionMode};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::broadcast::{Broadcaster, Subscription};
use crate::codec::{from_js, now_ms, random_u64, string_field, to_js};
use crate::error::{dom_exception_name, err_text};
use crate::js_record::JsRecord;
use crate::schema::{
    self, META, META_CLOCK, META_CLOCK_OFFSET, META_DATA_VERSION, META_DEVICE_ID, OUTBOX,
    QUARANTINE, RECORDS, SET_ASIDE,
};
use crate::writer::{self, Read, Write, Writer};
use crate::StoreError;

/// A local change waiting to be pushed: which record, the clock of its latest change, and
/// the version it was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub collection: String,
    pub id: String,
    pub hlc: Hlc,
    pub queued_at_ms: u64,
    /// The version the change was made from — one from elsewhere, or this device's own
    /// once pushed — kept until the change is pushed: the server stores the change only
    /// over it, and a concurrent version is merged against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<JsRecord>,
    /// The record was created on this device (there is no base). An entry with neither
    /// `base` nor `created` re-sends a version as it is (a replay, merged by clock alone):
    /// after the server lost it, from a restored backup, or queued before bases were kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
}

impl OutboxEntry {
    /// The entry of a local change `hlc` of `key`, made from `base`.
    pub(crate) fn made_from(key: &RecordKey, hlc: &Hlc, base: MadeFrom) -> Self {
        let (base, created) = match base {
            MadeFrom::Version(base) => (Some(base), false),
            MadeFrom::Nothing => (None, true),
            MadeFrom::AsItIs => (None, false),
        };
        OutboxEntry {
            collection: key.collection.clone(),
            id: key.id.clone(),
            hlc: hlc.clone(),
            queued_at_ms: now_ms(),
            base,
            created,
        }
    }

    /// The entry re-sending `record` as it is.
    pub(crate) fn replay(record: &JsRecord) -> Self {
        Self::made_from(&record.key(), &record.hlc, MadeFrom::AsItIs)
    }

    pub(crate) fn key(&self) -> RecordKey {
        RecordKey::new(self.collection.clone(), self.id.clone())
    }

    /// What the change was made from.
    pub(crate) fn made_from_what(&self) -> MadeFrom {
        match (&self.base, self.created) {
            (Some(base), _) => MadeFrom::Version(base.clone()),
            (None, true) => MadeFrom::Nothing,
            (None, false) => MadeFrom::AsItIs,
        }
    }

    /// How the merge rule sees this pending change.
    pub(crate) fn pending(&self) -> Pending<'_> {
        match (&self.base, self.created) {
            (Some(base), _) => Pending::Change {
                base: Some(&base.hlc),
            },
            (None, true) => Pending::Change { base: None },
            (None, false) => Pending::Replay,
        }
    }

    /// The base to push with ([`cairn_protocol::api::Change::base`]).
    pub(crate) fn push_base(&self) -> Option<&Hlc> {
        match (&self.base, self.created) {
            (Some(base), _) => Some(&base.hlc),
            (None, true) => None,
            (None, false) => Some(&self.hlc),
        }
    }
}

/// A record just written, with the clock of the version it was made from.
type MadeFromBase = (Record, Option<Hlc>);

/// What a local change was made from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MadeFrom {
    /// This version.
    Version(JsRecord),
    /// Nothing: the record is new.
    Nothing,
    /// The change re-sends a version as it is.
    AsItIs,
}

impl MadeFrom {
    /// The base of a new local change over what the device holds of its record: the
    /// pending change's base if one is pending (in the outbox, or set aside), else the
    /// version held (from elsewhere, or pushed), else nothing.
    pub(crate) fn for_change(pending: Option<MadeFrom>, held: Option<JsRecord>) -> MadeFrom {
        match (pending, held) {
            (Some(pending), _) => pending,
            (None, Some(held)) => MadeFrom::Version(held),
            (None, None) => MadeFrom::Nothing,
        }
    }
}

/// A stored record that could not be decoded; it was moved out of the way, kept as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    pub collection: String,
    pub id: String,
    pub reason: String,
}

/// The records of one collection, and those that could not be read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Loaded {
    pub records: Vec<Record>,
    pub quarantined: Vec<Quarantined>,
}

/// Whether what is written survives a reload.
#[derive(Debug, Clone, PartialEq)]
pub enum Durability {
    Persistent,
    /// IndexedDB could not be opened; changes live only as long as the page.
    MemoryOnly {
        reason: String,
    },
}

/// An open Cairn store.
pub struct Store {
    name: String,
    pub(crate) backend: Backend,
    /// This context's clock. Its device id is the device's id followed by this
    /// context's own random suffix, so two contexts (tabs, the service worker) never
    /// issue the same timestamp; every write moves it past the device's stored clock
    /// inside the write's transaction. Shared with the change subscription, which moves
    /// it past other contexts' changes as they are announced.
    pub(crate) clock: Rc<RefCell<HlcClock>>,
    /// How far the sync server's clock is ahead of this device's (ms; negative when
    /// behind), as last learned from a reply: local changes are stamped with the
    /// corrected time, so a device whose clock is wrong is not refused by the server.
    pub(crate) clock_offset: Rc<Cell<i64>>,
    pub(crate) broadcaster: Option<Broadcaster>,
    /// How each collection combines concurrent versions ([`Store::set_merge_rules`]).
    pub(crate) merge_rules: RefCell<MergeRules>,
}

pub(crate) enum Backend {
    /// rexie for opening, upgrading and reading; the writer for local writes.
    Idb(Rexie, Writer),
    /// Why IndexedDB could not be used, and the data.
    Memory(String, RefCell<MemoryDb>),
}

#[derive(Default)]
pub(crate) struct MemoryDb {
    pub(crate) records: BTreeMap<RecordKey, JsRecord>,
    pub(crate) outbox: BTreeMap<RecordKey, OutboxEntry>,
    /// Stored conflicts, as the rows IndexedDB would hold.
    pub(crate) conflicts: BTreeMap<(RecordKey, Hlc), JsValue>,
    pub(crate) meta: BTreeMap<&'static str, JsValue>,
    pub(crate) blobs: BTreeMap<String, crate::blobs::StoredBlob>,
    /// Set-aside changes, as the rows IndexedDB would hold.
    pub(crate) set_aside: BTreeMap<RecordKey, JsValue>,
}

impl Store {
    /// The database name the app uses.
    pub const APP_DB: &'static str = "cairn";

    /// Opens the database `name`: creates or upgrades it, runs pending data migrations,
    /// and loads or creates this device's id and clock.
    pub async fn open(name: &str) -> Result<Store, StoreError> {
        Store::open_reporting_blocked(name, || {}).await
    }

    /// [`Store::open`], calling `on_blocked` when the upgrade must wait for another tab
    /// that keeps an older version of the database open; it then waits until that tab
    /// closes it (or reloads into this version).
    pub async fn open_reporting_blocked(
        name: &str,
        on_blocked: impl FnOnce() + 'static,
    ) -> Result<Store, StoreError> {
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
        let store = Store {
            name: name.to_owned(),
            backend: Backend::Idb(db, writer),
            clock: Rc::new(RefCell::new(clock)),
            clock_offset: Rc::new(Cell::new(offset)),
            broadcaster: Broadcaster::new(name),
            merge_rules: RefCell::default(),
        };
        if let Some(rules) = store.meta(schema::META_MERGE_RULES).await? {
            *store.merge_rules.borrow_mut() = rules;
        }
        Ok(store)
    }

    /// [`Store::open_reporting_blocked`], falling back to a memory store when IndexedDB is
    /// unavailable. Other errors (a newer schema, a corrupt device clock) are returned: the data is
    /// there, and must not be hidden behind an empty memory store.
    pub async fn open_or_memory(
        name: &str,
        on_blocked: impl FnOnce() + 'static,
    ) -> Result<Store, StoreError> {
        match Store::open_reporting_blocked(name, on_blocked).await {
            Err(StoreError::Unavailable(reason)) => Store::memory(reason),
            other => other,
        }
    }

    /// A store that keeps everything in memory, for when IndexedDB is unavailable
    /// (`reason` says why).
    pub fn memory(reason: impl Into<String>) -> Result<Store, StoreError> {
        let clock = HlcClock::new(context_clock_id(&DeviceId::from_random(random_u64()?))?);
        Ok(Store {
            name: "memory".to_owned(),
            backend: Backend::Memory(reason.into(), RefCell::default()),
            clock: Rc::new(RefCell::new(clock)),
            clock_offset: Rc::new(Cell::new(0)),
            broadcaster: None,
            merge_rules: RefCell::default(),
        })
    }

    /// Deletes the database `name`.
    pub async fn delete_database(name: &str) -> Result<(), StoreError> {
        Rexie::delete(name).await.map_err(Into::into)
    }

    /// Sets how each collection combines a local change with a concurrent version from
    /// elsewhere ([`cairn_protocol::three_way`]); collections not named are
    /// last-writer-wins. The rules are kept in the database, so every context that opens
    /// it later (the service worker's sync) merges the same way.
    pub async fn set_merge_rules(&self, rules: MergeRules) -> Result<(), StoreError> {
        if *self.merge_rules.borrow() != rules {
            self.set_meta(schema::META_MERGE_RULES, Some(&rules))
                .await?;
            *self.merge_rules.borrow_mut() = rules;
        }
        Ok(())
    }

    /// The rules [`Store::set_merge_rules`] set.
    pub fn merge_rules(&self) -> MergeRules {
        self.merge_rules.borrow().clone()
    }

    /// The database name (`"memory"` for a memory store).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn durability(&self) -> Durability {
        match &self.backend {
            Backend::Idb(..) => Durability::Persistent,
            Backend::Memory(reason, _) => Durability::MemoryOnly {
                reason: reason.clone(),
            },
        }
    }

    /// This device's id: the start of the device id of every clock value its contexts
    /// issue ([`Store::is_own_clock`]).
    pub fn device_id(&self) -> DeviceId {
        let clock = self.clock.borrow();
        let id = clock.device().as_str();
        DeviceId::new(&id[..id.len() - CONTEXT_SUFFIX_LEN]).expect("a prefix of a device id")
    }

    /// Whether `hlc` was issued by a context of this device.
    pub fn is_own_clock(&self, hlc: &Hlc) -> bool {
        let clock = self.clock.borrow();
        let ours = clock.device().as_str();
        let device = &ours[..ours.len() - CONTEXT_SUFFIX_LEN];
        let theirs = hlc.device().as_str();
        theirs.len() == ours.len() && theirs.starts_with(device)
    }

    /// Physical time as the clock uses it: this device's, corrected by what the sync
    /// server's clock said.
    pub(crate) fn now(&self) -> u64 {
        corrected_now(self.clock_offset.get())
    }

    /// Learns the sync server's clock from a reply (`server_time_ms`): local changes are
    /// stamped with this device's time corrected by it (when it is off by more than a
    /// couple of seconds), and a device clock that had run beyond what the server accepts
    /// is brought back within that limit ([`HlcClock::limit_to`]). The sync engine calls
    /// it with every reply.
    pub async fn observe_server_time(&self, server_time_ms: u64) -> Result<(), StoreError> {
        if server_time_ms == 0 {
            return Ok(());
        }
        let offset = server_time_ms as i64 - now_ms() as i64;
        // Within a couple of seconds (network time included) this device's clock is right.
        let offset = if offset.abs() < CLOCK_TOLERANCE_MS {
            0
        } else {
            offset
        };
        let before = self.clock_offset.replace(offset);
        if (before - offset).abs() > 1_000 {
            self.set_meta(META_CLOCK_OFFSET, Some(&offset)).await?;
        }
        self.limit_clock(server_time_ms).await
    }

    /// Brings the device's clock (stored, and this context's) back within the drift limit
    /// of `server_time_ms` if it ran beyond it (see [`HlcClock::limit_to`]), in one
    /// transaction.
    async fn limit_clock(&self, server_time_ms: u64) -> Result<(), StoreError> {
        let Backend::Idb(db, _) = &self.backend else {
            self.clock.borrow_mut().limit_to(server_time_ms);
            return Ok(());
        };
        let tx = db.transaction(&[META], TransactionMode::ReadWrite)?;
        let meta = tx.store(META)?;
        let stored = meta.get(META_CLOCK.into()).await?;
        let limited = {
            let mut clock = self.clock.borrow_mut();
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

    /// The record at `key`, if any (tombstones included).
    pub async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let db = match &self.backend {
            Backend::Memory(_, mem) => {
                return mem
                    .borrow()
                    .records
                    .get(key)
                    .map(JsRecord::decode)
                    .transpose();
            }
            Backend::Idb(db, _) => db,
        };
        let tx = db.transaction(&[RECORDS], TransactionMode::ReadOnly)?;
        let raw = tx.store(RECORDS)?.get(key_js(key)).await?;
        raw.map(|raw| {
            from_js::<Record>(raw).map_err(|reason| StoreError::Corrupt {
                collection: key.collection.clone(),
                id: key.id.clone(),
                reason,
            })
        })
        .transpose()
    }

    /// Writes `value` at `key` as a local change (see the module docs).
    pub async fn write(
        &self,
        key: RecordKey,
        value: serde_json::Value,
    ) -> Result<Record, StoreError> {
        let mut written = self
            .commit_local(vec![LocalChange::Put(key, value)], None)
            .await?;
        Ok(written.remove(0))
    }

    /// Deletes the record at `key` as a local change: a tombstone, queued like a write.
    pub async fn delete(&self, key: RecordKey) -> Result<Record, StoreError> {
        let mut written = self
            .commit_local(vec![LocalChange::Delete(key)], None)
            .await?;
        Ok(written.remove(0))
    }

    /// Writes many values as local changes in ONE transaction: all are stored and queued,
    /// or none is. For imports and bulk edits; far faster than one `write` each.
    pub async fn write_many(
        &self,
        changes: Vec<(RecordKey, serde_json::Value)>,
    ) -> Result<Vec<Record>, StoreError> {
        let changes = changes
            .into_iter()
            .map(|(key, value)| LocalChange::Put(key, value))
            .collect();
        self.commit_changes(changes).await
    }

    /// Makes `changes` (writes and deletes) as local changes in ONE transaction: fresh
    /// clocks, stored and queued for sync, all or none.
    pub async fn commit_changes(
        &self,
        changes: Vec<LocalChange>,
    ) -> Result<Vec<Record>, StoreError> {
        self.commit_local(changes, None).await
    }

    /// [`Store::commit_changes`], answering with each change the clock of the version it
    /// was made from, as it will be pushed ([`cairn_protocol::api::Change::base`]): for
    /// tools and tests that follow which version replaced which.
    pub async fn commit_changes_made_from(
        &self,
        changes: Vec<LocalChange>,
    ) -> Result<Vec<(Record, Option<Hlc>)>, StoreError> {
        self.commit_local_made_from(changes, None).await
    }

    pub(crate) async fn commit_local(
        &self,
        changes: Vec<LocalChange>,
        replaced: Option<&Record>,
    ) -> Result<Vec<Record>, StoreError> {
        let written = self.commit_local_made_from(changes, replaced).await?;
        Ok(written.into_iter().map(|(record, _)| record).collect())
    }

    /// Makes `changes` local changes in one transaction: reads the device's stored clock,
    /// moves this context's clock past it, stamps each change, and stores the records,
    /// their outbox entries and the clock. A record set aside before (refused) leaves that
    /// list: this newer change replaces it. With `replaced` (a version from elsewhere that
    /// the first change knowingly replaces), that version goes to the conflict log in the
    /// same transaction.
    async fn commit_local_made_from(
        &self,
        changes: Vec<LocalChange>,
        replaced: Option<&Record>,
    ) -> Result<Vec<(Record, Option<Hlc>)>, StoreError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<RecordKey> = changes.iter().map(LocalChange::key).collect();
        let (clock, now) = (self.clock.clone(), self.now());
        let replaced = replaced.cloned();
        let replaced_key = replaced.as_ref().map(|r| (r.key(), r.hlc.clone()));
        let stamp = move |stored: Option<Hlc>| -> Result<StampedWrite, StoreError> {
            let mut clock = clock.borrow_mut();
            if let Some(stored) = &stored {
                clock.catch_up(stored);
            }
            let records = changes
                .into_iter()
                .map(|change| {
                    let hlc = clock.tick(now)?;
                    Ok(match change {
                        LocalChange::Put(key, value) => Record::new(key, value, hlc),
                        LocalChange::Delete(key) => Record::tombstone(key, hlc),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let conflict = match (&replaced, records.first()) {
                (Some(loser), Some(winner)) => Some(crate::js_record::conflict_row(
                    &JsRecord::from_record(winner)?,
                    &JsRecord::from_record(loser)?,
                    now_ms(),
                    cairn_protocol::ConflictKind::Overwritten,
                )?),
                _ => None,
            };
            Ok(StampedWrite {
                clock: clock.last().clone(),
                records,
                conflict,
            })
        };
        // Each change is made from what its record was when the transaction read it; a
        // record changed twice in one commit keeps the base of its first change.
        let bases = |keys: &[RecordKey],
                     read: &mut dyn FnMut(usize) -> Result<MadeFrom, StoreError>|
         -> Result<Vec<MadeFrom>, StoreError> {
            let mut first: BTreeMap<&RecordKey, MadeFrom> = BTreeMap::new();
            let mut out = Vec::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                let base = match first.get(key) {
                    Some(base) => base.clone(),
                    None => read(i)?,
                };
                first.entry(key).or_insert_with(|| base.clone());
                out.push(base);
            }
            Ok(out)
        };
        match &self.backend {
            Backend::Memory(_, mem) => {
                let made_from = {
                    let mem = mem.borrow();
                    bases(&keys, &mut |i| {
                        let key = &keys[i];
                        let pending = match mem.outbox.get(key) {
                            Some(entry) => Some(entry.made_from_what()),
                            None => mem.set_aside.get(key).map(crate::set_aside::made_from),
                        };
                        Ok(MadeFrom::for_change(pending, mem.records.get(key).cloned()))
                    })?
                };
                let stamped = stamp(None)?;
                let mut mem = mem.borrow_mut();
                let mut written = Vec::with_capacity(stamped.records.len());
                for (record, base) in stamped.records.into_iter().zip(made_from) {
                    let entry = OutboxEntry::made_from(&record.key(), &record.hlc, base);
                    let base = entry.push_base().cloned();
                    mem.outbox.insert(record.key(), entry);
                    mem.set_aside.remove(&record.key());
                    mem.records
                        .insert(record.key(), JsRecord::from_record(&record)?);
                    written.push((record, base));
                }
                if let (Some(row), Some(loser)) = (stamped.conflict, replaced_key) {
                    mem.conflicts.insert(loser, row);
                }
                Ok(written)
            }
            Backend::Idb(_, writer) => {
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
                let keys = keys.clone();
                writer
                    .read_then_write(
                        &[RECORDS, OUTBOX, schema::CONFLICTS, META, SET_ASIDE],
                        &reads,
                        move |mut values| {
                            let corrupt =
                                |store: &str, key: &RecordKey, reason| StoreError::Corrupt {
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
                            let made_from = bases(&keys, &mut |i| {
                                let key = &keys[i];
                                let [entry, held, aside] =
                                    [0, 1, 2].map(|j| values[1 + j * n + i].take());
                                if aside.is_some() {
                                    set_aside.push(key_js(key));
                                }
                                let pending = match (entry, aside) {
                                    (Some(raw), _) => Some(
                                        from_js::<OutboxEntry>(raw)
                                            .map_err(|r| corrupt(OUTBOX, key, r))?
                                            .made_from_what(),
                                    ),
                                    (None, Some(raw)) => Some(crate::set_aside::made_from(&raw)),
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
                            write.puts.push((RECORDS, records));
                            write.puts.push((OUTBOX, outbox));
                            if let Some(row) = stamped.conflict {
                                write.puts.push((schema::CONFLICTS, vec![row]));
                            }
                            write.keyed.push((META, clock_key, to_js(&stamped.clock)?));
                            write.deletes.push((SET_ASIDE, set_aside));
                            *out.borrow_mut() = stamped.records.into_iter().zip(bases).collect();
                            Ok(write)
                        },
                    )
                    .await?;
                let written = written.take();
                let records: Vec<Record> = written.iter().map(|(r, _)| r.clone()).collect();
                self.announce(records_changed(&records));
                Ok(written)
            }
        }
    }

    /// Stores `record` as it is, without queuing it: for records that come from elsewhere
    /// (the sync server, a restored backup).
    pub async fn put(&self, record: &Record) -> Result<(), StoreError> {
        let db = match &self.backend {
            Backend::Memory(_, mem) => {
                mem.borrow_mut()
                    .records
                    .insert(record.key(), JsRecord::from_record(record)?);
                return Ok(());
            }
            Backend::Idb(db, _) => db,
        };
        let tx = db.transaction(&[RECORDS], TransactionMode::ReadWrite)?;
        tx.store(RECORDS)?.put(&to_js(record)?, None).await?;
        commit(tx).await?;
        self.announce(records_changed(std::slice::from_ref(record)));
        Ok(())
    }

    /// Every record of `collection`, in id order. Records that fail to decode are moved
    /// to the quarantine (kept as they were) and reported; the rest load normally.
    pub async fn load_collection(&self, collection: &str) -> Result<Loaded, StoreError> {
        let db = match &self.backend {
            Backend::Memory(_, mem) => {
                let records = mem
                    .borrow()
                    .records
                    .values()
                    .filter(|r| r.collection == collection)
                    .map(JsRecord::decode)
                    .collect::<Result<_, _>>()?;
                return Ok(Loaded {
                    records,
                    quarantined: Vec::new(),
                });
            }
            Backend::Idb(db, _) => db,
        };
        let tx = db.transaction(&[RECORDS], TransactionMode::ReadOnly)?;
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
            loaded.quarantined = quarantine(db, collection, bad).await?;
        }
        Ok(loaded)
    }

    /// The records moved to the quarantine because they could not be decoded.
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        let Backend::Idb(db, _) = &self.backend else {
            return Ok(Vec::new());
        };
        let tx = db.transaction(&[QUARANTINE], TransactionMode::ReadOnly)?;
        let raws = tx.store(QUARANTINE)?.get_all(None, None).await?;
        Ok(raws
            .iter()
            .map(|raw| Quarantined {
                collection: string_field(raw, "collection").unwrap_or_default(),
                id: string_field(raw, "id").unwrap_or_default(),
                reason: string_field(raw, "reason").unwrap_or_default(),
            })
            .collect())
    }

    /// The changes waiting to be pushed, one per record, in key order.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let db = match &self.backend {
            Backend::Memory(_, mem) => return Ok(mem.borrow().outbox.values().cloned().collect()),
            Backend::Idb(db, _) => db,
        };
        let tx = db.transaction(&[OUTBOX], TransactionMode::ReadOnly)?;
        tx.store(OUTBOX)?
            .get_all(None, None)
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

    /// Calls `on_change` with the key of every record that another tab (or worker) of
    /// this origin changed in this database, until the subscription is dropped. This
    /// store's clock moves past each such change.
    pub fn subscribe(
        &self,
        mut on_change: impl FnMut(RecordKey) + 'static,
    ) -> Option<Subscription> {
        let (clock, offset) = (self.clock.clone(), self.clock_offset.clone());
        self.broadcaster.as_ref().and_then(|b| {
            b.subscribe(move |key, hlc| {
                // Another context stored it: later local changes must beat it.
                let _ = clock
                    .borrow_mut()
                    .witness(&hlc, corrected_now(offset.get()));
                on_change(key)
            })
        })
    }

    /// Tells other contexts about changes whose transaction committed, each as
    /// (collection, id, clock).
    pub(crate) fn announce<'r>(
        &self,
        changes: impl ExactSizeIterator<Item = (&'r str, &'r str, &'r Hlc)>,
    ) {
        if let Some(b) = &self.broadcaster {
            b.announce(changes);
        }
    }
}

impl Drop for Store {
    /// Closes the IndexedDB connections: an open one would block other tabs' upgrades
    /// and deleting the database until the page goes away.
    fn drop(&mut self) {
        let closed = Backend::Memory(String::new(), RefCell::default());
        if let Backend::Idb(db, writer) = std::mem::replace(&mut self.backend, closed) {
            writer.close();
            db.close();
        }
    }
}

/// Local changes stamped inside their write's transaction.
struct StampedWrite {
    /// The clock after stamping them, to store.
    clock: Hlc,
    records: Vec<Record>,
    /// The conflict-log row of the version the first change replaced, if any.
    conflict: Option<JsValue>,
}

/// What [`Store::announce`] takes, for `records`.
fn records_changed(records: &[Record]) -> impl ExactSizeIterator<Item = (&str, &str, &Hlc)> {
    records
        .iter()
        .map(|r| (r.collection.as_str(), r.id.as_str(), &r.hlc))
}

pub(crate) async fn commit(tx: Transaction) -> Result<(), StoreError> {
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

/// How far this device's clock may be from the server's before changes are stamped
/// with the server's time instead.
const CLOCK_TOLERANCE_MS: i64 = 2_000;

/// Length of the random suffix that makes each context's clock id unique.
const CONTEXT_SUFFIX_LEN: usize = 8;

/// A clock id for a new context of `device`: the device id (cut to leave room) and a
/// random suffix.
fn context_clock_id(device: &DeviceId) -> Result<DeviceId, StoreError> {
    let keep = DeviceId::MAX_LEN - CONTEXT_SUFFIX_LEN;
    let device = &device.as_str()[..device.as_str().len().min(keep)];
    let suffix = random_u64()? as u32;
    Ok(DeviceId::new(format!("{device}{suffix:08x}"))?)
}

fn corrected_now(offset_ms: i64) -> u64 {
    (now_ms() as i64).saturating_add(offset_ms).max(0) as u64
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

pub(crate) fn key_js(key: &RecordKey) -> JsValue {
    js_sys::Array::of2(
        &JsValue::from_str(&key.collection),
        &JsValue::from_str(&key.id),
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
