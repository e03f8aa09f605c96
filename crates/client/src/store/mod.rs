//! The store: every record of the app, the outbox of changes to sync, and the device's
//! identity and clock.
//!
//! A local write ([`Store::write`], [`Store::delete`]) stamps the change with the next
//! clock value and stores, in ONE readwrite transaction, the record, its outbox entry and
//! the clock (the transactional outbox). It resolves only once the transaction committed;
//! if it fails, nothing of it is stored and the caller gets the error. The outbox holds one
//! entry per record, so repeated writes to a record coalesce into its latest change.
//!
//! The store is IndexedDB (`idb`: through rexie, local writes on the `writer`'s
//! connection) or, where IndexedDB cannot be opened, memory (`memory`,
//! [`Durability::MemoryOnly`]): the app keeps working and can warn that changes will not
//! be kept. Both implement the same operations, each one transaction; `backend`'s
//! `Backend` is the one place that chooses between them, so the rest of the crate (this
//! module, sync's side in `replica`, blobs, backup, set-aside changes, snapshots,
//! secrets) is written once over it. What is decided rather than stored (stamping a
//! commit, what the merge rule makes of an incoming record) is the caller's, passed in as
//! a closure that runs inside the backend's transaction. Secrets and snapshots need
//! IndexedDB itself (the store's `indexed_db`); a memory store has neither.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use cairn_protocol::backup::LocalChange;
use cairn_protocol::{
    ConflictKind, DeviceId, Hlc, HlcClock, MergeRules, Pending, Record, RecordKey,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::broadcast::{Broadcaster, Subscription};
use crate::codec::{from_js, now_ms, random_u64, to_js};
use crate::js_record::{conflict_row, JsRecord};
use crate::schema::{self, META_CLOCK_OFFSET};
use crate::StoreError;

mod backend;
mod idb;
mod memory;

pub(crate) use backend::Backend;
pub(crate) use idb::{key_js, Idb};

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

    /// Records that this change was made after `version` (this device's own, now on the
    /// server): `version` becomes its base.
    pub(crate) fn made_after(&mut self, version: &JsRecord) {
        self.base = Some(version.clone());
        self.created = false;
    }
}

/// A record just written, with the clock of the version it was made from.
pub(crate) type MadeFromBase = (Record, Option<Hlc>);

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

    /// What the change of a stored row with an outbox entry's `base` and `created` fields
    /// (a set-aside change's row) was made from.
    pub(crate) fn of_row(raw: &JsValue) -> MadeFrom {
        #[derive(Deserialize)]
        struct Base {
            #[serde(default)]
            base: Option<JsRecord>,
            #[serde(default)]
            created: bool,
        }
        match from_js::<Base>(raw.clone()) {
            Ok(Base {
                base: Some(base), ..
            }) => MadeFrom::Version(base),
            Ok(Base { created: true, .. }) => MadeFrom::Nothing,
            _ => MadeFrom::AsItIs,
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

/// A conflict-log row, with the key the log keeps it under: the record and the clock
/// of the version that lost.
pub(crate) struct ConflictEntry {
    pub(crate) lost: (RecordKey, Hlc),
    pub(crate) row: JsValue,
}

impl ConflictEntry {
    /// The entry logging that `winner` replaced `loser`.
    pub(crate) fn new(
        winner: &JsRecord,
        loser: &JsRecord,
        detected_at_ms: u64,
        kind: ConflictKind,
    ) -> Result<ConflictEntry, StoreError> {
        Ok(ConflictEntry {
            lost: (loser.key(), loser.hlc.clone()),
            row: conflict_row(winner, loser, detected_at_ms, kind)?,
        })
    }
}

/// What applying one incoming record does to the device's rows: decided by the merge
/// rule (`replica`), stored by the backend in the batch's transaction.
#[derive(Default)]
pub(crate) struct Step {
    /// The version to store, if it changes.
    pub(crate) record: Option<JsRecord>,
    pub(crate) entry: EntryStep,
    /// A conflict-log entry to add.
    pub(crate) conflict: Option<ConflictEntry>,
    /// The record's set-aside change leaves that list.
    pub(crate) clear_aside: bool,
}

/// Records from elsewhere to apply in one transaction ([`Backend::apply`]).
/// Records read with their rows as stored (each a copy), then the upload marks
/// ([`Backend::records_and_marks`]).
pub(crate) type RowsAndMarks = (Vec<Option<(JsRecord, JsValue)>>, Vec<String>);

pub(crate) struct Batch<'a> {
    /// This device's pushed changes the server took: their outbox entries go, unless
    /// changed again meanwhile.
    pub(crate) acknowledged: &'a [&'a JsRecord],
    /// Versions from elsewhere, each applied by the merge rule.
    pub(crate) incoming: &'a [JsRecord],
    /// The rows `incoming` was read from (a pulled page's objects), in order, if they
    /// are at hand: an incoming version stored as it came is stored as its row when
    /// that row has the stored shape, without building another.
    pub(crate) incoming_rows: Option<&'a [JsValue]>,
    /// A pull position to store in `meta` at its key.
    pub(crate) cursor: Option<(&'static str, JsValue)>,
}

/// What the device holds of an incoming record, as its batch has left it so far.
pub(crate) struct Held<'a> {
    /// The record's version.
    pub(crate) local: Option<&'a JsRecord>,
    /// Its pending change.
    pub(crate) entry: Option<&'a OutboxEntry>,
    /// Whether a change of it is set aside.
    pub(crate) aside: bool,
}

/// What happens to a record's outbox entry.
#[derive(Debug, Default, PartialEq)]
pub(crate) enum EntryStep {
    #[default]
    Keep,
    Drop,
    Put(OutboxEntry),
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
        let (idb, clock, offset) = Idb::open(name, on_blocked).await?;
        let store = Store {
            name: name.to_owned(),
            backend: Backend::idb(idb),
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
            backend: Backend::memory(reason.into()),
            clock: Rc::new(RefCell::new(clock)),
            clock_offset: Rc::new(Cell::new(0)),
            broadcaster: None,
            merge_rules: RefCell::default(),
        })
    }

    /// Deletes the database `name`.
    pub async fn delete_database(name: &str) -> Result<(), StoreError> {
        Idb::delete_database(name).await
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
        match self.backend.memory_reason() {
            None => Durability::Persistent,
            Some(reason) => Durability::MemoryOnly {
                reason: reason.to_owned(),
            },
        }
    }

    /// The IndexedDB database, for what only it can keep (secrets, snapshots); why there
    /// is none (IndexedDB could not be opened) otherwise.
    pub(crate) fn indexed_db(&self) -> Result<&Idb, &str> {
        self.backend.indexed_db()
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
        self.backend.limit_clock(&self.clock, server_time_ms).await
    }

    /// A value kept in `meta` (session, pull position, last sync), if set and readable.
    pub(crate) async fn meta<T: DeserializeOwned>(
        &self,
        key: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let raw = self.backend.meta(key).await?;
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
        let value = value.map(to_js).transpose()?;
        self.backend.set_meta(key, value).await
    }

    /// The record at `key`, if any (tombstones included).
    pub async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.backend.record(key).await
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
    ) -> Result<Vec<MadeFromBase>, StoreError> {
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
    ) -> Result<Vec<MadeFromBase>, StoreError> {
        self.commit_local_full(changes, replaced, Vec::new()).await
    }

    /// [`Store::commit_local`] storing `blobs` (rows and upload marks) in the same
    /// transaction.
    pub(crate) async fn commit_local_with_blobs(
        &self,
        changes: Vec<LocalChange>,
        blobs: Vec<crate::StoredBlob>,
    ) -> Result<Vec<MadeFromBase>, StoreError> {
        self.commit_local_full(changes, None, blobs).await
    }

    async fn commit_local_full(
        &self,
        changes: Vec<LocalChange>,
        replaced: Option<&Record>,
        blobs: Vec<crate::StoredBlob>,
    ) -> Result<Vec<MadeFromBase>, StoreError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<RecordKey> = changes.iter().map(LocalChange::key).collect();
        let (clock, now) = (self.clock.clone(), self.now());
        let replaced = replaced.cloned();
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
                (Some(loser), Some(winner)) => Some(ConflictEntry::new(
                    &JsRecord::from_record(winner)?,
                    &JsRecord::from_record(loser)?,
                    now_ms(),
                    ConflictKind::Overwritten,
                )?),
                _ => None,
            };
            Ok(StampedWrite {
                clock: clock.last().clone(),
                records,
                conflict,
            })
        };
        let written = self.backend.commit_local(keys, blobs, stamp).await?;
        let records: Vec<Record> = written.iter().map(|(r, _)| r.clone()).collect();
        self.announce(records_changed(&records));
        Ok(written)
    }

    /// Stores `record` as it is, without queuing it: for records that come from elsewhere
    /// (the sync server, a restored backup).
    pub async fn put(&self, record: &Record) -> Result<(), StoreError> {
        self.backend.put_record(record).await?;
        self.announce(records_changed(std::slice::from_ref(record)));
        Ok(())
    }

    /// Every record of `collection`, in id order. Records that fail to decode are moved
    /// to the quarantine (kept as they were) and reported; the rest load normally.
    pub async fn load_collection(&self, collection: &str) -> Result<Loaded, StoreError> {
        self.backend.load_collection(collection).await
    }

    /// The records moved to the quarantine because they could not be decoded.
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        self.backend.quarantined().await
    }

    /// The changes waiting to be pushed, one per record, in key order.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.backend.outbox().await
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
        let closed = Backend::memory(String::new());
        std::mem::replace(&mut self.backend, closed).close();
    }
}

/// Local changes stamped inside their write's transaction.
pub(crate) struct StampedWrite {
    /// The clock after stamping them, to store.
    pub(crate) clock: Hlc,
    pub(crate) records: Vec<Record>,
    /// The conflict-log entry of the version the first change replaced, if any.
    pub(crate) conflict: Option<ConflictEntry>,
}

/// What [`Store::announce`] takes, for `records`.
fn records_changed(records: &[Record]) -> impl ExactSizeIterator<Item = (&str, &str, &Hlc)> {
    records
        .iter()
        .map(|r| (r.collection.as_str(), r.id.as_str(), &r.hlc))
}

/// What each of `keys` (the records of one commit, in order) is made from: `read(i)` for
/// the first change of a record, what the transaction read of it; a record changed twice
/// in one commit keeps the base of its first change.
pub(crate) fn made_from_each(
    keys: &[RecordKey],
    read: &mut dyn FnMut(usize) -> Result<MadeFrom, StoreError>,
) -> Result<Vec<MadeFrom>, StoreError> {
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
