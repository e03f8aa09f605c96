//! The store's side of sync: what the sync loop reads from and writes to the store.
//!
//! Records from elsewhere (a pull page, the winners named in a push reply) are applied by
//! the merge rule in ONE transaction per batch, together with the conflict log, the outbox
//! and the pull position, so a crash part-way leaves either the whole batch or none of it.
//! The decision for each record is made here (by [`cairn_protocol::reconcile`] and the
//! collection's merge rule) as a [`Step`]; the store's backend (IndexedDB or memory,
//! [`crate::store`]) reads the rows it needs and stores the steps in its transaction.

use std::collections::BTreeSet;

use cairn_protocol::backup::LocalChange;
use cairn_protocol::three_way::{resolve, Logged, Resolution, Side, Version};
use cairn_protocol::{reconcile, ConflictKind, Hlc, Pending, Reconcile, Record, RecordKey};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::codec::{from_js, now_ms, to_js};
use crate::js_record::{self, JsRecord};
use crate::store::{Batch, ConflictEntry, EntryStep, Held, MadeFrom, OutboxEntry, Step, Store};
use crate::sync::StoredConflict;
use crate::StoreError;

/// Records to push, each with its row as stored (a copy) and its push base, then the
/// upload marks ([`Store::records_to_push`]).
pub(crate) type ToPush = (Vec<(JsRecord, JsValue, Option<Hlc>)>, Vec<String>);

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
    /// How many local changes wait to be pushed.
    pub async fn pending_count(&self) -> Result<usize, StoreError> {
        self.backend.outbox_len().await
    }

    /// The current records for `entries` (outbox entries), in order, each with the base
    /// to push it with ([`OutboxEntry::push_base`]), read in one transaction. An entry
    /// whose record is gone is skipped.
    pub(crate) async fn records_for(
        &self,
        entries: &[OutboxEntry],
    ) -> Result<Vec<(JsRecord, Option<Hlc>)>, StoreError> {
        let (records, _) = self.records_to_push(entries).await?;
        Ok(records
            .into_iter()
            .map(|(record, _, base)| (record, base))
            .collect())
    }

    /// [`Store::records_for`] with each record's row as stored (a copy, the caller's to
    /// change), and then the blobs marked for upload, read in the same transaction.
    pub(crate) async fn records_to_push(
        &self,
        entries: &[OutboxEntry],
    ) -> Result<ToPush, StoreError> {
        let keys: Vec<RecordKey> = entries.iter().map(OutboxEntry::key).collect();
        let (rows, marks) = self.backend.records_and_marks(&keys).await?;
        let records = rows
            .into_iter()
            .zip(entries)
            .filter_map(|(row, entry)| {
                let (record, raw) = row?;
                Some((record, raw, entry.push_base().cloned()))
            })
            .collect();
        Ok((records, marks))
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
    /// `rows` are the page's objects `records` were read from, in order.
    pub(crate) async fn apply_pulled<C: Serialize>(
        &self,
        records: &[JsRecord],
        rows: &[JsValue],
        cursor: (&'static str, &C),
    ) -> Result<Applied<JsRecord>, StoreError> {
        let rows = (rows.len() == records.len()).then_some(rows);
        let cursor = Some((cursor.0, to_js(cursor.1)?));
        self.apply_rows(&[], records, rows, cursor, false).await
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
        self.apply_rows(acknowledged, incoming, None, cursor, queue)
    }

    /// [`Store::apply`] with the rows `incoming` was read from, if at hand.
    fn apply_rows<'s>(
        &'s self,
        acknowledged: &'s [&'s JsRecord],
        incoming: &'s [JsRecord],
        incoming_rows: Option<&'s [JsValue]>,
        cursor: Option<(&'static str, JsValue)>,
        queue: bool,
    ) -> LocalBoxFuture<'s, Result<Applied<JsRecord>, StoreError>> {
        Box::pin(self.apply_now(acknowledged, incoming, incoming_rows, cursor, queue))
    }

    async fn apply_now(
        &self,
        acknowledged: &[&JsRecord],
        incoming: &[JsRecord],
        incoming_rows: Option<&[JsValue]>,
        cursor: Option<(&'static str, JsValue)>,
        queue: bool,
    ) -> Result<Applied<JsRecord>, StoreError> {
        // Every record that may be stored here moves the clock past it, however far
        // ahead (the server bounds how far): a later local edit of it must win. Past the
        // device's stored clock too (read in the backend's transaction), which is then stored.
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
        let batch = Batch {
            acknowledged,
            incoming,
            incoming_rows,
            cursor,
        };
        self.backend
            .apply(batch, &self.clock, witness, |held, record| {
                self.step(held, record, queue, &mut applied)
            })
            .await?;
        self.announce(
            applied
                .changed
                .iter()
                .map(|r| (r.collection.as_str(), r.id.as_str(), &r.hlc)),
        );
        Ok(applied)
    }

    /// What applying `incoming` does, given what the device holds of it: its version
    /// `local`, its outbox `entry` and whether a change of it is set aside (`aside`);
    /// `queue` queues a version taken for sync (as it is). Counts what it shows and logs
    /// in `applied`.
    fn step(
        &self,
        Held {
            local,
            entry,
            aside,
        }: Held<'_>,
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
        let taken =
            |entry: EntryStep, conflict: Option<ConflictEntry>, applied: &mut Applied<_>| {
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
                let conflict =
                    ConflictEntry::new(incoming, &loser, now_ms(), ConflictKind::Overwritten)?;
                taken(EntryStep::Drop, Some(conflict), applied)
            }
            Reconcile::KeepPending | Reconcile::Ignore => Step::default(),
            Reconcile::Advance => {
                let mut entry = entry.expect("an advanced change is pending").clone();
                entry.made_after(incoming);
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
                Some(ConflictEntry::new(&stored, loser, now, kind)?)
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
        let conflict = ConflictEntry::new(
            &JsRecord::from_record(winner)?,
            &JsRecord::from_record(loser)?,
            now_ms(),
            ConflictKind::Overwritten,
        )?;
        self.backend.log_conflict(conflict).await
    }

    /// Every logged conflict, newest first.
    pub async fn conflicts(&self) -> Result<Vec<StoredConflict>, StoreError> {
        let mut all = self
            .backend
            .conflict_rows()
            .await?
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
        let lost = (conflict.key(), conflict.lost_hlc.clone());
        self.backend.delete_conflict(&lost).await
    }

    /// Queues every stored record for pushing (one transaction): after signing in to an
    /// account this device has not synced with, so that account gets this device's data.
    /// Each is re-sent as it is (a replay, merged by clock alone): the server lost it,
    /// or never had it.
    pub(crate) async fn queue_everything(&self) -> Result<usize, StoreError> {
        self.backend.queue_everything().await
    }
}

impl StoredConflict {
    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.collection.clone(), self.id.clone())
    }
}
