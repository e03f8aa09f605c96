//! Concurrent versions of one record, and how a device combines them.
//!
//! Two versions are concurrent when each was made without knowing the other: a device's
//! unpushed change, made from some version (its *base*), and a version from elsewhere that
//! is neither that base nor older than it. The server refuses to store a change over a
//! version it was not made from ([`crate::merge::admit`]), so every concurrent pair meets
//! on the device whose change came second, which combines them here, before anything of
//! either is lost.
//!
//! A collection chooses how ([`MergeRule`]):
//! - [`MergeRule::LastWriterWins`]: the version with the higher clock wins whole, and the
//!   other goes to that device's conflict log, for the user to restore.
//! - [`MergeRule::ThreeWay`]: the two versions are merged against their base. JSON object
//!   fields changed on one side only take that side; text changed on both sides is merged
//!   line by line (`diffy`) when the edits touch different lines; nested objects merge
//!   field by field. Only what both sides changed differently — an overlap — falls back to
//!   the higher clock, and then the losing version goes to the conflict log, marked for
//!   the user. A clean merge is logged too, as merged, so the user can see what happened.
//!
//! An edit against a delete is never decided by the clock: **the edit is kept, and the
//! delete goes to the conflict log**. A lost edit cannot be typed again from memory; a
//! lost delete is one click ("Restore" deletes again).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::hlc::Hlc;
use crate::record::Record;

/// How a collection resolves concurrent versions of its records.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum MergeRule {
    /// The higher clock wins; the other version is logged.
    #[default]
    LastWriterWins,
    /// Merge against the base (see the module docs). `newest_wins` names top-level fields
    /// that every edit changes (an `updated_at`): where both sides changed one, the higher
    /// clock's value is taken without counting as an overlap.
    ThreeWay { newest_wins: Vec<String> },
}

impl MergeRule {
    /// [`MergeRule::ThreeWay`] with the given `newest_wins` fields.
    pub fn three_way<S: Into<String>>(newest_wins: impl IntoIterator<Item = S>) -> Self {
        MergeRule::ThreeWay {
            newest_wins: newest_wins.into_iter().map(Into::into).collect(),
        }
    }
}

/// The [`MergeRule`] of each collection; collections not named use
/// [`MergeRule::LastWriterWins`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MergeRules {
    rules: BTreeMap<String, MergeRule>,
}

impl MergeRules {
    /// Every collection last-writer-wins.
    pub fn new() -> Self {
        Self::default()
    }

    /// These rules, with `collection` resolved by `rule`.
    pub fn with(mut self, collection: impl Into<String>, rule: MergeRule) -> Self {
        self.rules.insert(collection.into(), rule);
        self
    }

    pub fn rule(&self, collection: &str) -> &MergeRule {
        static DEFAULT: MergeRule = MergeRule::LastWriterWins;
        self.rules.get(collection).unwrap_or(&DEFAULT)
    }
}

/// One version of a record, as the merge sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Version<'a> {
    pub value: &'a Value,
    pub deleted: bool,
    pub hlc: &'a Hlc,
}

impl<'a> From<&'a Record> for Version<'a> {
    fn from(r: &'a Record) -> Self {
        Version {
            value: &r.value,
            deleted: r.deleted,
            hlc: &r.hlc,
        }
    }
}

/// Which of the two concurrent versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The device's own unpushed change.
    Local,
    /// The version from elsewhere.
    Incoming,
}

/// What a conflict-log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// The losing version's changes (all, or those that overlapped) were replaced by the
    /// winner's: the user should look.
    #[default]
    Overwritten,
    /// Both versions' changes were combined into the current value; nothing was lost.
    /// The entry keeps the device's version from before the merge.
    Merged,
}

/// What goes to the conflict log: which version, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    pub version: Side,
    pub kind: ConflictKind,
}

/// How two concurrent versions end.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The incoming version stands as it is; the local change is dropped.
    TakeIncoming { logged: Option<Logged> },
    /// The device writes this as a new local change made from the incoming version, so it
    /// reaches every replica: `Some(value)`, or `None` for a delete.
    Rebase {
        value: Option<Value>,
        logged: Option<Logged>,
    },
}

/// Resolves the device's unpushed change `local` against `incoming`, a concurrent
/// version, by `rule`. `base` is the version `local` was made from (`None` for a record
/// the device created, or when it is not known: then every difference counts as made on
/// both sides).
pub fn resolve(
    rule: &MergeRule,
    base: Option<Version<'_>>,
    local: Version<'_>,
    incoming: Version<'_>,
) -> Resolution {
    let local_wins = local.hlc > incoming.hlc;
    let local_value = || (!local.deleted).then(|| local.value.clone());
    let newest_wins = match rule {
        MergeRule::LastWriterWins => {
            return if local_wins {
                Resolution::Rebase {
                    value: local_value(),
                    logged: Some(overwritten(Side::Incoming)),
                }
            } else {
                Resolution::TakeIncoming {
                    logged: Some(overwritten(Side::Local)),
                }
            };
        }
        MergeRule::ThreeWay { newest_wins } => newest_wins,
    };
    match (local.deleted, incoming.deleted) {
        (true, true) => Resolution::TakeIncoming { logged: None },
        // An edit against a delete: the edit is kept, the delete is logged.
        (true, false) => Resolution::TakeIncoming {
            logged: Some(overwritten(Side::Local)),
        },
        (false, true) => Resolution::Rebase {
            value: local_value(),
            logged: Some(overwritten(Side::Incoming)),
        },
        (false, false) => {
            let base = base.filter(|b| !b.deleted).map(|b| b.value);
            let mut merge = ValueMerge {
                local_wins,
                overlapped: false,
            };
            let merged = merge
                .top_level(base, local.value, incoming.value, newest_wins)
                .unwrap_or(Value::Null);
            let loser = if local_wins {
                Side::Incoming
            } else {
                Side::Local
            };
            if &merged == incoming.value {
                Resolution::TakeIncoming {
                    logged: merge.overlapped.then(|| overwritten(Side::Local)),
                }
            } else if merge.overlapped {
                Resolution::Rebase {
                    value: Some(merged),
                    logged: Some(overwritten(loser)),
                }
            } else {
                let logged = (&merged != local.value).then_some(Logged {
                    version: Side::Local,
                    kind: ConflictKind::Merged,
                });
                Resolution::Rebase {
                    value: Some(merged),
                    logged,
                }
            }
        }
    }
}

fn overwritten(version: Side) -> Logged {
    Logged {
        version,
        kind: ConflictKind::Overwritten,
    }
}

/// A three-way merge of JSON values, noting whether any change overlapped.
struct ValueMerge {
    local_wins: bool,
    overlapped: bool,
}

impl ValueMerge {
    /// The merge of the record's values: as [`ValueMerge::value`], with the `newest_wins`
    /// fields of top-level objects taken from the higher clock where both changed.
    fn top_level(
        &mut self,
        base: Option<&Value>,
        local: &Value,
        remote: &Value,
        newest_wins: &[String],
    ) -> Option<Value> {
        match (base, local, remote) {
            (None | Some(Value::Object(_)), Value::Object(l), Value::Object(r)) => {
                let b = base.and_then(Value::as_object);
                Some(Value::Object(self.fields(b, l, r, newest_wins)))
            }
            _ => self.value(base, Some(local), Some(remote)),
        }
    }

    /// The merge of one value present (`Some`) or absent (`None`) in each version.
    fn value(
        &mut self,
        base: Option<&Value>,
        local: Option<&Value>,
        remote: Option<&Value>,
    ) -> Option<Value> {
        if local == remote || remote == base {
            return local.cloned();
        }
        if local == base {
            return remote.cloned();
        }
        match (base, local, remote) {
            (None | Some(Value::Object(_)), Some(Value::Object(l)), Some(Value::Object(r))) => {
                let b = base.and_then(Value::as_object);
                Some(Value::Object(self.fields(b, l, r, &[])))
            }
            (Some(Value::String(b)), Some(Value::String(l)), Some(Value::String(r))) => {
                match diffy::merge(b, l, r) {
                    Ok(text) => Some(Value::String(text)),
                    Err(_) => self.overlap(local, remote),
                }
            }
            _ => self.overlap(local, remote),
        }
    }

    fn fields(
        &mut self,
        base: Option<&Map<String, Value>>,
        local: &Map<String, Value>,
        remote: &Map<String, Value>,
        newest_wins: &[String],
    ) -> Map<String, Value> {
        let mut keys: Vec<&String> = local.keys().collect();
        keys.extend(remote.keys().filter(|k| !local.contains_key(*k)));
        if let Some(base) = base {
            keys.extend(
                base.keys()
                    .filter(|k| !local.contains_key(*k) && !remote.contains_key(*k)),
            );
        }
        let mut merged = Map::new();
        for key in keys {
            let (b, l, r) = (
                base.and_then(|m| m.get(key)),
                local.get(key),
                remote.get(key),
            );
            let both_changed = l != b && r != b && l != r;
            let value = if both_changed && newest_wins.iter().any(|n| n == key) {
                if self.local_wins {
                    l.cloned()
                } else {
                    r.cloned()
                }
            } else {
                self.value(b, l, r)
            };
            if let Some(value) = value {
                merged.insert(key.clone(), value);
            }
        }
        merged
    }

    /// Both sides changed this differently: the higher clock's side.
    fn overlap(&mut self, local: Option<&Value>, remote: Option<&Value>) -> Option<Value> {
        self.overlapped = true;
        if self.local_wins {
            local.cloned()
        } else {
            remote.cloned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::DeviceId;
    use serde_json::json;

    fn hlc(wall: u64, device: &str) -> Hlc {
        Hlc::new(wall, 0, DeviceId::new(device).unwrap()).unwrap()
    }

    fn notes() -> MergeRule {
        MergeRule::three_way(["updated_at"])
    }

    /// Resolves live versions: base at 1, local at `local_at` by "a", incoming at 5 by "b".
    fn resolve_values(
        rule: &MergeRule,
        base: Option<&Value>,
        local: &Value,
        local_at: u64,
        incoming: &Value,
    ) -> Resolution {
        let (hb, hl, hi) = (hlc(1, "a"), hlc(local_at, "a"), hlc(5, "b"));
        let version = |value, hlc| Version {
            value,
            deleted: false,
            hlc,
        };
        resolve(
            rule,
            base.map(|b| version(b, &hb)),
            version(local, &hl),
            version(incoming, &hi),
        )
    }

    #[test]
    fn fields_changed_on_one_side_each_take_that_side() {
        let base = json!({"title": "Shopping", "body": "milk", "updated_at": 1});
        let local = json!({"title": "Shopping", "body": "milk\neggs", "updated_at": 3});
        let incoming = json!({"title": "Shopping for Saturday", "body": "milk", "updated_at": 2});
        let got = resolve_values(&notes(), Some(&base), &local, 7, &incoming);
        assert_eq!(
            got,
            Resolution::Rebase {
                value: Some(
                    json!({"title": "Shopping for Saturday", "body": "milk\neggs", "updated_at": 3})
                ),
                logged: Some(Logged {
                    version: Side::Local,
                    kind: ConflictKind::Merged
                }),
            }
        );
    }

    #[test]
    fn text_edits_on_different_lines_merge() {
        let base = json!({"body": "one\n\ntwo\n\nthree"});
        let local = json!({"body": "ONE\n\ntwo\n\nthree"});
        let incoming = json!({"body": "one\n\ntwo\n\nTHREE"});
        let got = resolve_values(&notes(), Some(&base), &local, 3, &incoming);
        let Resolution::Rebase { value, logged } = got else {
            panic!("{got:?}")
        };
        assert_eq!(value, Some(json!({"body": "ONE\n\ntwo\n\nTHREE"})));
        assert_eq!(logged.unwrap().kind, ConflictKind::Merged);
    }

    #[test]
    fn overlapping_edits_fall_back_to_the_higher_clock_and_log_the_loser() {
        let base = json!({"title": "t", "body": "one"});
        let local = json!({"title": "mine", "body": "one"});
        let incoming = json!({"title": "theirs", "body": "one\ntwo"});
        // Incoming (5) beats local (3): its title; the body change still merges in.
        assert_eq!(
            resolve_values(&notes(), Some(&base), &local, 3, &incoming),
            Resolution::TakeIncoming {
                logged: Some(overwritten(Side::Local))
            }
        );
        // Local (7) beats incoming: its title, their body.
        assert_eq!(
            resolve_values(&notes(), Some(&base), &local, 7, &incoming),
            Resolution::Rebase {
                value: Some(json!({"title": "mine", "body": "one\ntwo"})),
                logged: Some(overwritten(Side::Incoming)),
            }
        );
    }

    #[test]
    fn newest_wins_fields_never_count_as_an_overlap() {
        let base = json!({"a": 1, "updated_at": 1});
        let local = json!({"a": 1, "updated_at": 3});
        let incoming = json!({"a": 2, "updated_at": 2});
        assert_eq!(
            resolve_values(&notes(), Some(&base), &local, 7, &incoming),
            Resolution::Rebase {
                value: Some(json!({"a": 2, "updated_at": 3})),
                logged: Some(Logged {
                    version: Side::Local,
                    kind: ConflictKind::Merged
                }),
            }
        );
    }

    #[test]
    fn an_edit_beats_a_delete_whatever_the_clocks() {
        let (early, late) = (hlc(2, "a"), hlc(9, "b"));
        let value = json!({"body": "kept"});
        let edit = Version {
            value: &value,
            deleted: false,
            hlc: &early,
        };
        let delete = Version {
            value: &Value::Null,
            deleted: true,
            hlc: &late,
        };
        assert_eq!(
            resolve(&notes(), None, edit, delete),
            Resolution::Rebase {
                value: Some(value.clone()),
                logged: Some(overwritten(Side::Incoming)),
            }
        );
        assert_eq!(
            resolve(&notes(), None, delete, edit),
            Resolution::TakeIncoming {
                logged: Some(overwritten(Side::Local))
            }
        );
    }

    #[test]
    fn last_writer_wins_keeps_the_higher_clock_whole_and_logs_the_other() {
        let lww = MergeRule::LastWriterWins;
        let base = json!({"a": 1, "b": 1});
        let local = json!({"a": 2, "b": 1});
        let incoming = json!({"a": 1, "b": 2});
        assert_eq!(
            resolve_values(&lww, Some(&base), &local, 9, &incoming),
            Resolution::Rebase {
                value: Some(local.clone()),
                logged: Some(overwritten(Side::Incoming)),
            }
        );
        assert_eq!(
            resolve_values(&lww, Some(&base), &local, 3, &incoming),
            Resolution::TakeIncoming {
                logged: Some(overwritten(Side::Local))
            }
        );
    }

    #[test]
    fn without_a_base_every_difference_is_an_overlap() {
        let local = json!({"a": 1, "b": "x"});
        let incoming = json!({"a": 2, "c": true});
        assert_eq!(
            resolve_values(&notes(), None, &local, 9, &incoming),
            Resolution::Rebase {
                value: Some(json!({"a": 1, "b": "x", "c": true})),
                logged: Some(overwritten(Side::Incoming)),
            }
        );
    }

    #[test]
    fn a_field_removed_on_one_side_and_kept_on_the_other_is_removed() {
        let base = json!({"a": 1, "b": 1});
        let local = json!({"a": 1});
        let incoming = json!({"a": 2, "b": 1});
        assert_eq!(
            resolve_values(&notes(), Some(&base), &local, 3, &incoming),
            Resolution::Rebase {
                value: Some(json!({"a": 2})),
                logged: Some(Logged {
                    version: Side::Local,
                    kind: ConflictKind::Merged
                }),
            }
        );
    }

    #[test]
    fn rules_default_to_last_writer_wins() {
        let rules = MergeRules::new().with("notes", notes());
        assert_eq!(rules.rule("notes"), &notes());
        assert_eq!(rules.rule("waivers"), &MergeRule::LastWriterWins);
    }
}
