//! The dry run of an import: [`plan()`] says, for each record of a [`Validated`] file,
//! what importing it would do to what the device holds, by the merge rule
//! ([`crate::merge`](mod@crate::merge)) or by "Replace all"; [`merge_writes`] and
//! [`replace_changes`] are the writes of each mode. Nothing here writes anything.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::parse::{Rejected, RejectedBlob, Validated};
use crate::merge::{merge, Merge};
use crate::record::{Record, RecordKey};

/// How an import treats what is already on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// By the merge rule: each record of the file is taken only where it is newer (by
    /// clock) than the device's version, keeping its clock; newer local data wins.
    Merge,
    /// The file's collections become exactly what the file holds: its records are
    /// written as new changes (so they win everywhere once synced), and records of those
    /// collections that are not in the file are deleted (tombstones, so deletions sync).
    Replace,
}

/// What an import does with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// A record the device does not have (or has deleted) appears.
    Add,
    /// A record the device has gets the file's value.
    Update,
    /// A record the device has is deleted.
    Delete,
    /// Nothing changes: the device holds the same version (or the same value).
    Unchanged,
    /// The device's version is newer (merge only): it is kept.
    Older,
}

/// One record's fate in an import.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanItem {
    pub key: RecordKey,
    pub action: Action,
    /// The file's version; `None` for a local record that "Replace all" deletes because
    /// the file does not have it.
    pub incoming: Option<Record>,
    /// Merge only: the device's version is an unsynced change that loses to the file's
    /// (it goes to the conflict log).
    pub conflict: bool,
}

/// Counts of a [`Plan`], for the dry-run report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanCounts {
    pub add: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
    pub older: usize,
    pub conflicts: usize,
    pub rejected: usize,
    /// Images the file brings (stored here unless the device has them already).
    pub blobs: usize,
    /// Images of the file left out as damaged ([`Plan::rejected_blobs`]).
    pub rejected_blobs: usize,
}

/// What an import would do: the dry-run report, and the list of writes to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub mode: ImportMode,
    pub items: Vec<PlanItem>,
    pub counts: PlanCounts,
    pub rejected: Vec<Rejected>,
    /// Images of the file that are left out, with the reason: they do not stop the
    /// import.
    pub rejected_blobs: Vec<RejectedBlob>,
}

impl Plan {
    /// False when the file has an invalid record: then nothing may be imported.
    pub fn can_apply(&self) -> bool {
        self.rejected.is_empty()
    }

    /// The items that change something, in order.
    pub fn writes(&self) -> impl Iterator<Item = &PlanItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.action, Action::Add | Action::Update | Action::Delete))
    }

    pub fn write_count(&self) -> usize {
        self.counts.add + self.counts.update + self.counts.delete
    }
}

/// Plans importing `validated` into a device holding `local` (every record, tombstones
/// included), of which the keys in `pending` are unsynced local changes. Pure: nothing is
/// written. "Replace" acts on the collections the backup names.
pub fn plan(
    validated: &Validated,
    local: &BTreeMap<RecordKey, Record>,
    pending: &BTreeSet<RecordKey>,
    mode: ImportMode,
) -> Plan {
    let live = |r: Option<&Record>| r.is_some_and(|r| !r.deleted);
    let mut items = Vec::with_capacity(validated.backup.records.len());
    for incoming in &validated.backup.records {
        let key = incoming.key();
        let held = local.get(&key);
        let (action, conflict) = match mode {
            ImportMode::Merge => match merge(held.map(|r| &r.hlc), &incoming.hlc) {
                Merge::Duplicate => (Action::Unchanged, false),
                Merge::Keep => (Action::Older, false),
                Merge::Take => {
                    let action = match (live(held), incoming.deleted) {
                        (false, false) => Action::Add,
                        (true, false) => Action::Update,
                        (true, true) => Action::Delete,
                        // A deletion of something the device does not have: nothing to
                        // show, but storing the tombstone keeps the deletion known.
                        (false, true) => Action::Unchanged,
                    };
                    let conflict = held.is_some() && pending.contains(&key);
                    (action, conflict)
                }
            },
            ImportMode::Replace => {
                let action = match (held.filter(|r| !r.deleted), incoming.deleted) {
                    (None, false) => Action::Add,
                    (Some(h), false) if h.value == incoming.value => Action::Unchanged,
                    (Some(_), false) => Action::Update,
                    (Some(_), true) => Action::Delete,
                    (None, true) => Action::Unchanged,
                };
                (action, false)
            }
        };
        items.push(PlanItem {
            key,
            action,
            incoming: Some(incoming.clone()),
            conflict,
        });
    }
    if mode == ImportMode::Replace {
        let in_file: BTreeSet<RecordKey> =
            validated.backup.records.iter().map(Record::key).collect();
        let scope: BTreeSet<&str> = validated
            .backup
            .collections
            .iter()
            .map(String::as_str)
            .collect();
        for (key, held) in local {
            if !held.deleted && scope.contains(key.collection.as_str()) && !in_file.contains(key) {
                items.push(PlanItem {
                    key: key.clone(),
                    action: Action::Delete,
                    incoming: None,
                    conflict: false,
                });
            }
        }
    }
    let mut counts = PlanCounts {
        rejected: validated.rejected.len(),
        blobs: validated.backup.blobs.len(),
        rejected_blobs: validated.rejected_blobs.len(),
        ..PlanCounts::default()
    };
    for item in &items {
        match item.action {
            Action::Add => counts.add += 1,
            Action::Update => counts.update += 1,
            Action::Delete => counts.delete += 1,
            Action::Unchanged => counts.unchanged += 1,
            Action::Older => counts.older += 1,
        }
        counts.conflicts += usize::from(item.conflict);
    }
    Plan {
        mode,
        items,
        counts,
        rejected: validated.rejected.clone(),
        rejected_blobs: validated.rejected_blobs.clone(),
    }
}

/// The records a merge import writes: the file's versions that beat the device's,
/// tombstones of records the device never had included (they keep the deletion known).
pub fn merge_writes(plan: &Plan) -> Vec<Record> {
    plan.items
        .iter()
        .filter(|i| {
            matches!(i.action, Action::Add | Action::Update | Action::Delete)
                || (i.action == Action::Unchanged
                    && i.incoming.as_ref().is_some_and(|r| r.deleted)
                    && !i.conflict)
        })
        .filter_map(|i| i.incoming.clone())
        .collect()
}

/// A change "Replace all" makes as a new local change.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalChange {
    Put(RecordKey, Value),
    Delete(RecordKey),
}

impl LocalChange {
    /// The record it changes.
    pub fn key(&self) -> RecordKey {
        match self {
            LocalChange::Put(key, _) | LocalChange::Delete(key) => key.clone(),
        }
    }
}

/// The local changes a replace import makes, in order.
pub fn replace_changes(plan: &Plan) -> Vec<LocalChange> {
    plan.writes()
        .map(|item| match (&item.action, &item.incoming) {
            (Action::Add | Action::Update, Some(r)) => {
                LocalChange::Put(item.key.clone(), r.value.clone())
            }
            _ => LocalChange::Delete(item.key.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::backup::format::Backup;
    use crate::backup::test_support::{hlc, rec, NOW};

    fn local(records: &[Record]) -> BTreeMap<RecordKey, Record> {
        records.iter().map(|r| (r.key(), r.clone())).collect()
    }

    fn validated(records: Vec<Record>, collections: &[&str]) -> Validated {
        Validated {
            backup: Backup::new(
                "t",
                NOW,
                "d",
                collections.iter().map(|c| c.to_string()),
                records,
            ),
            migrated_from: None,
            rejected: Vec::new(),
            rejected_blobs: Vec::new(),
        }
    }

    fn action_of(plan: &Plan, id: &str) -> (Action, bool) {
        let item = plan.items.iter().find(|i| i.key.id == id).unwrap();
        (item.action, item.conflict)
    }

    #[test]
    fn merge_plan_classifies_by_clock() {
        let file = validated(
            vec![
                rec("notes", "new", json!(1), 10),
                rec("notes", "newer", json!(2), 20),
                rec("notes", "older", json!(3), 5),
                rec("notes", "same", json!(4), 7),
                Record::tombstone(RecordKey::new("notes", "deleted"), hlc(30, "a")),
                Record::tombstone(RecordKey::new("notes", "never-had"), hlc(30, "a")),
                rec("notes", "pending", json!(5), 40),
            ],
            &["notes"],
        );
        let here = local(&[
            rec("notes", "newer", json!("old"), 10),
            rec("notes", "older", json!("mine"), 9),
            rec("notes", "same", json!(4), 7),
            rec("notes", "deleted", json!("live"), 1),
            rec("notes", "pending", json!("typed"), 30),
            rec("notes", "only-here", json!("kept"), 1),
        ]);
        let pending = BTreeSet::from([RecordKey::new("notes", "pending")]);
        let p = plan(&file, &here, &pending, ImportMode::Merge);
        assert_eq!(action_of(&p, "new"), (Action::Add, false));
        assert_eq!(action_of(&p, "newer"), (Action::Update, false));
        assert_eq!(action_of(&p, "older"), (Action::Older, false));
        assert_eq!(action_of(&p, "same"), (Action::Unchanged, false));
        assert_eq!(action_of(&p, "deleted"), (Action::Delete, false));
        assert_eq!(action_of(&p, "never-had"), (Action::Unchanged, false));
        assert_eq!(action_of(&p, "pending"), (Action::Update, true));
        assert!(
            p.items.iter().all(|i| i.key.id != "only-here"),
            "merge deletes nothing"
        );
        assert_eq!(
            p.counts,
            PlanCounts {
                add: 1,
                update: 2,
                delete: 1,
                unchanged: 2,
                older: 1,
                conflicts: 1,
                ..PlanCounts::default()
            }
        );
        assert!(p.can_apply());
        let writes: Vec<_> = merge_writes(&p).into_iter().map(|r| r.id).collect();
        assert_eq!(writes, ["deleted", "never-had", "new", "newer", "pending"]);
    }

    #[test]
    fn replace_plan_deletes_what_the_file_lacks_in_its_collections() {
        let file = validated(
            vec![
                rec("notes", "same-value", json!(1), 1),
                rec("notes", "changed", json!(2), 1),
                rec("notes", "new", json!(3), 1),
                Record::tombstone(RecordKey::new("notes", "deleted-in-file"), hlc(1, "a")),
            ],
            &["notes"],
        );
        let here = local(&[
            rec("notes", "same-value", json!(1), 99),
            rec("notes", "changed", json!("newer here"), 99),
            rec("notes", "deleted-in-file", json!("live"), 99),
            rec("notes", "not-in-file", json!("x"), 99),
            Record::tombstone(RecordKey::new("notes", "already-gone"), hlc(99, "a")),
            rec("prefs", "other-collection", json!("kept"), 99),
        ]);
        let p = plan(&file, &here, &BTreeSet::new(), ImportMode::Replace);
        assert_eq!(action_of(&p, "same-value").0, Action::Unchanged);
        assert_eq!(
            action_of(&p, "changed").0,
            Action::Update,
            "the file wins, even if older"
        );
        assert_eq!(action_of(&p, "new").0, Action::Add);
        assert_eq!(action_of(&p, "deleted-in-file").0, Action::Delete);
        assert_eq!(action_of(&p, "not-in-file").0, Action::Delete);
        assert!(p
            .items
            .iter()
            .all(|i| i.key.id != "already-gone" && i.key.id != "other-collection"));
        assert_eq!(p.write_count(), 4);
        assert_eq!(
            replace_changes(&p),
            vec![
                LocalChange::Put(RecordKey::new("notes", "changed"), json!(2)),
                LocalChange::Delete(RecordKey::new("notes", "deleted-in-file")),
                LocalChange::Put(RecordKey::new("notes", "new"), json!(3)),
                LocalChange::Delete(RecordKey::new("notes", "not-in-file")),
            ]
        );
    }
}
