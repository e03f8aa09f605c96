//! The merge rule, and what a device does with a record that arrives from elsewhere.
//!
//! Clocks order versions: of two versions of a record, the one with the higher [`Hlc`] is
//! the newer; two versions with the same clock are the same change (a device never issues
//! one clock twice), so applying it again does nothing. Tombstones are ordinary versions.
//!
//! A clock alone cannot tell whether a change was made *knowing* the version it replaces.
//! So each pushed change names its base (the version it was made from), the server stores
//! a change only over its base ([`admit`]) and hands any other back, and the device that
//! made it then combines the two ([`crate::three_way`]) and pushes the result made from the
//! server's version. Every version a replica keeps is therefore the newest of a chain in
//! which each version knew the one before; replicas that have seen the same versions hold
//! the same state, whatever the order and however often each arrived.

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::record::Record;
use crate::three_way::ConflictKind;

/// What to do with an incoming version of a record, given the version already held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// The incoming version is newer (or the record is new): store it.
    Take,
    /// The held version is the same change: nothing to do.
    Duplicate,
    /// The held version is newer: keep it; the incoming one lost.
    Keep,
}

/// The merge rule, on clocks alone.
pub fn merge(held: Option<&Hlc>, incoming: &Hlc) -> Merge {
    match held {
        None => Merge::Take,
        Some(held) if incoming > held => Merge::Take,
        Some(held) if incoming == held => Merge::Duplicate,
        Some(_) => Merge::Keep,
    }
}

/// What a replica that keeps one version per record and hands changes on (the server)
/// does with a pushed change, given the clock of the version it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Store it: the record is new here, or the change was made from the held version.
    Take,
    /// The held version is this change: nothing to do.
    Duplicate,
    /// The held version is newer (a replayed change that lost by clock): keep it.
    Superseded,
    /// The change was made from another version than the one held: the two are
    /// concurrent. Keep the held version and hand it back, so the pushing device
    /// combines them ([`crate::three_way`]) and pushes the result.
    Stale,
}

/// The server's rule for a pushed change with clock `change`, made from the version with
/// clock `base` (`None`: a record the device created, or a base it does not know), when it
/// holds the version with clock `held`. A change whose base is its own clock is a
/// *replay*: a version the device held before (say, re-sent after the server lost it),
/// merged by clock alone.
pub fn admit(held: Option<&Hlc>, change: &Hlc, base: Option<&Hlc>) -> Admit {
    let Some(held) = held else {
        return Admit::Take;
    };
    if change == held {
        Admit::Duplicate
    } else if base == Some(held) || base == Some(change) {
        if change > held {
            Admit::Take
        } else {
            Admit::Superseded
        }
    } else {
        Admit::Stale
    }
}

/// Whether a device's version of a record is a change still waiting to be pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending<'a> {
    /// Not pending: the device's version came from elsewhere or was pushed.
    No,
    /// A local change made from the version with clock `base` (`None`: a record this
    /// device created, or a base not known).
    Change { base: Option<&'a Hlc> },
    /// A version the device re-sends as it is (after the server lost it, or from a
    /// restored backup), or one set aside: merged by clock alone.
    Replay,
}

/// What a device does with a record pulled from the server (or named as the winner in a
/// push reply), given its own version and whether that version is still pending.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconcile<R = Record> {
    /// Store the incoming version; nothing local is lost.
    Apply,
    /// Store the incoming version; the pending replay lost by clock and goes to the
    /// conflict log (and leaves the outbox).
    ApplyOverPending { loser: R },
    /// Keep the pending change: it is newer than the incoming version, which it was made
    /// from or after.
    KeepPending,
    /// The incoming version is one this device made before its pending change (coming
    /// back from the server): keep the change, and make the incoming version its base.
    Advance,
    /// The pending change and the incoming version were made without knowing each other:
    /// resolve them ([`crate::three_way::resolve`]) before anything of either is lost.
    Concurrent { local: R },
    /// Nothing to do: the same change, or an older one.
    Ignore,
}

/// A version of a record in whatever form a replica holds it (a [`Record`], or one whose
/// value the replica never decodes): the merge rule looks only at its clock.
pub trait Versioned: Clone {
    fn hlc(&self) -> &Hlc;
}

impl Versioned for Record {
    fn hlc(&self) -> &Hlc {
        &self.hlc
    }
}

/// Decides how `incoming` meets the device's version `local`, pending as `pending`.
/// `own` says whether `incoming` was made on this device (by any of its contexts): a
/// device's changes to one record are made one after the other, so an own version older
/// than the pending change is one the change was made after.
pub fn reconcile<R: Versioned>(
    local: Option<&R>,
    pending: Pending<'_>,
    incoming: &R,
    own: bool,
) -> Reconcile<R> {
    let taken = merge(local.map(Versioned::hlc), incoming.hlc());
    let Some(local) = local else {
        return Reconcile::Apply;
    };
    match pending {
        Pending::No => match taken {
            Merge::Take => Reconcile::Apply,
            Merge::Duplicate | Merge::Keep => Reconcile::Ignore,
        },
        Pending::Replay => match taken {
            Merge::Take => Reconcile::ApplyOverPending {
                loser: local.clone(),
            },
            Merge::Keep => Reconcile::KeepPending,
            Merge::Duplicate => Reconcile::Ignore,
        },
        Pending::Change { base } => {
            if taken == Merge::Duplicate || base.is_some_and(|b| incoming.hlc() <= b) {
                Reconcile::Ignore
            } else if own && taken == Merge::Keep {
                Reconcile::Advance
            } else {
                Reconcile::Concurrent {
                    local: local.clone(),
                }
            }
        }
    }
}

/// A local change that lost to a change made elsewhere: both versions, so the user can
/// see what was overwritten and restore it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// The version that won and is now current.
    pub winner: Record,
    /// The local version that lost.
    pub loser: Record,
    /// When this device noticed, in ms since the Unix epoch.
    pub detected_at_ms: u64,
    /// Whether the loser was overwritten or merged into the winner (entries from before
    /// merging read as overwritten).
    #[serde(default)]
    pub kind: ConflictKind,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::DeviceId;
    use crate::record::RecordKey;
    use serde_json::json;

    fn at(wall: u64, device: &str, value: i64) -> Record {
        let hlc = Hlc::new(wall, 0, DeviceId::new(device).unwrap()).unwrap();
        Record::new(RecordKey::new("notes", "n1"), json!(value), hlc)
    }

    #[test]
    fn higher_clock_wins_and_equal_clock_is_a_duplicate() {
        let (old, new) = (at(1, "a", 1), at(2, "a", 2));
        assert_eq!(merge(None, &old.hlc), Merge::Take);
        assert_eq!(merge(Some(&old.hlc), &new.hlc), Merge::Take);
        assert_eq!(merge(Some(&new.hlc), &old.hlc), Merge::Keep);
        assert_eq!(merge(Some(&new.hlc), &new.hlc), Merge::Duplicate);
    }

    #[test]
    fn device_id_breaks_ties_on_equal_time() {
        let (a, b) = (at(5, "a", 1), at(5, "b", 2));
        assert_eq!(merge(Some(&a.hlc), &b.hlc), Merge::Take);
        assert_eq!(merge(Some(&b.hlc), &a.hlc), Merge::Keep);
    }

    #[test]
    fn a_pending_change_meets_versions_by_its_base() {
        let (base, local) = (at(1, "b", 0), at(3, "a", 1));
        let change = Pending::Change {
            base: Some(&base.hlc),
        };
        // Its own base, or older: nothing to do.
        assert_eq!(
            reconcile(Some(&local), change, &base, false),
            Reconcile::Ignore
        );
        // The change itself coming back.
        assert_eq!(
            reconcile(Some(&local), change, &local, true),
            Reconcile::Ignore
        );
        // A version from elsewhere after the base, older or newer than the change: both
        // were made without knowing each other.
        for other in [at(2, "b", 2), at(4, "b", 2)] {
            assert_eq!(
                reconcile(Some(&local), change, &other, false),
                Reconcile::Concurrent {
                    local: local.clone()
                }
            );
        }
        // An older version of this device's: the change was made after it.
        assert_eq!(
            reconcile(Some(&local), change, &at(2, "a", 2), true),
            Reconcile::Advance
        );
        // A created record meets any version as concurrent.
        let created = Pending::Change { base: None };
        assert!(matches!(
            reconcile(Some(&local), created, &at(2, "b", 2), false),
            Reconcile::Concurrent { .. }
        ));
    }

    #[test]
    fn versions_that_are_not_pending_follow_the_clock() {
        let (old, new) = (at(1, "a", 1), at(2, "b", 2));
        assert_eq!(
            reconcile(Some(&old), Pending::No, &new, false),
            Reconcile::Apply
        );
        assert_eq!(
            reconcile(Some(&new), Pending::No, &old, false),
            Reconcile::Ignore
        );
        assert_eq!(reconcile(None, Pending::No, &new, false), Reconcile::Apply);
        // A replay, too, but a lost one is logged.
        assert_eq!(
            reconcile(Some(&old), Pending::Replay, &new, false),
            Reconcile::ApplyOverPending { loser: old.clone() }
        );
        assert_eq!(
            reconcile(Some(&new), Pending::Replay, &old, false),
            Reconcile::KeepPending
        );
    }

    #[test]
    fn the_server_takes_only_changes_made_from_what_it_holds() {
        let (held, change) = (at(2, "b", 0).hlc, at(3, "a", 0).hlc);
        let other = at(1, "c", 0).hlc;
        assert_eq!(admit(None, &change, None), Admit::Take);
        assert_eq!(admit(None, &change, Some(&other)), Admit::Take);
        assert_eq!(admit(Some(&held), &change, Some(&held)), Admit::Take);
        assert_eq!(
            admit(Some(&change), &change, Some(&other)),
            Admit::Duplicate
        );
        assert_eq!(admit(Some(&held), &change, Some(&other)), Admit::Stale);
        assert_eq!(admit(Some(&held), &change, None), Admit::Stale);
        // A replay (its base is itself) is merged by clock.
        assert_eq!(admit(Some(&held), &change, Some(&change)), Admit::Take);
        assert_eq!(admit(Some(&change), &held, Some(&held)), Admit::Superseded);
    }

    #[test]
    fn tombstones_follow_the_same_rule() {
        let write = at(1, "a", 1);
        let delete = Record::tombstone(
            write.key(),
            Hlc::new(2, 0, DeviceId::new("b").unwrap()).unwrap(),
        );
        assert_eq!(
            reconcile(Some(&write), Pending::No, &delete, false),
            Reconcile::Apply
        );
        assert_eq!(
            reconcile(Some(&delete), Pending::No, &write, false),
            Reconcile::Ignore
        );
    }
}
