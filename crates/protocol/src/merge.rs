//! The merge rule, and what a device does with a record that arrives from elsewhere.
//!
//! The rule is last-writer-wins by clock: of two versions of a record, the one with the
//! higher [`Hlc`] wins; two versions with the same clock are the same change (a device
//! never issues one clock twice), so applying it again does nothing. Tombstones are
//! ordinary versions, so a delete wins over older writes and loses to newer ones.
//!
//! Because the rule picks a maximum, replicas that have seen the same set of changes hold
//! the same state whatever order the changes arrived in and however often each arrived.

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::record::Record;

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

/// What a device does with a record pulled from the server (or named as the winner in a
/// push reply), given its own version and whether that version is a local change not yet
/// pushed (still in the outbox).
#[derive(Debug, Clone, PartialEq)]
pub enum Reconcile<R = Record> {
    /// Store the incoming version; nothing local is lost.
    Apply,
    /// Store the incoming version; the unpushed local change lost and goes to the
    /// conflict log (and leaves the outbox).
    ApplyOverPending { loser: R },
    /// The unpushed local change is newer: keep it; it stays in the outbox and will
    /// win on the server when pushed.
    KeepPending,
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

/// Decides how `incoming` meets the local version `local`. `pending` is true when
/// `local` is a change still waiting in the outbox.
pub fn reconcile<R: Versioned>(local: Option<&R>, pending: bool, incoming: &R) -> Reconcile<R> {
    match (merge(local.map(Versioned::hlc), incoming.hlc()), local) {
        (Merge::Take, Some(local)) if pending => Reconcile::ApplyOverPending {
            loser: local.clone(),
        },
        (Merge::Take, _) => Reconcile::Apply,
        (Merge::Keep, _) if pending => Reconcile::KeepPending,
        (Merge::Keep | Merge::Duplicate, _) => Reconcile::Ignore,
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
    fn a_losing_pending_change_becomes_a_conflict() {
        let (local, remote) = (at(1, "a", 1), at(2, "b", 2));
        assert_eq!(
            reconcile(Some(&local), true, &remote),
            Reconcile::ApplyOverPending {
                loser: local.clone()
            }
        );
        assert_eq!(reconcile(Some(&local), false, &remote), Reconcile::Apply);
        assert_eq!(
            reconcile(Some(&remote), true, &local),
            Reconcile::KeepPending
        );
        assert_eq!(reconcile(Some(&remote), false, &local), Reconcile::Ignore);
        assert_eq!(reconcile(Some(&remote), true, &remote), Reconcile::Ignore);
        assert_eq!(reconcile(None, false, &remote), Reconcile::Apply);
    }

    #[test]
    fn tombstones_follow_the_same_rule() {
        let write = at(1, "a", 1);
        let delete = Record::tombstone(
            write.key(),
            Hlc::new(2, 0, DeviceId::new("b").unwrap()).unwrap(),
        );
        assert_eq!(reconcile(Some(&write), false, &delete), Reconcile::Apply);
        assert_eq!(reconcile(Some(&delete), false, &write), Reconcile::Ignore);
    }
}
