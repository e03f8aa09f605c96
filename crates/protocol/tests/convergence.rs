//! Property tests of the merge rule as the whole system uses it: devices that edit while
//! apart, push and pull through a server in any interleaving, converge to one state, and
//! no edit disappears without being merged into the final value, knowingly replaced, or
//! logged. The server stores a change only over the version it was made from
//! ([`cairn_protocol::admit`]); devices merge what it hands back
//! ([`cairn_protocol::three_way`]).

use std::collections::{BTreeMap, BTreeSet};

use cairn_protocol::three_way::{resolve, Resolution, Side, Version};
use cairn_protocol::{
    admit, merge, reconcile, Admit, ConflictKind, DeviceId, Hlc, HlcClock, Merge, MergeRule,
    MergeRules, Pending, Reconcile, Record, RecordKey,
};
use proptest::prelude::*;
use serde_json::{json, Value};

type State = BTreeMap<RecordKey, Record>;

/// Applies `incoming` to a plain replica by the merge rule.
fn apply(state: &mut State, incoming: &Record) {
    let key = incoming.key();
    if merge(state.get(&key).map(|r| &r.hlc), &incoming.hlc) == Merge::Take {
        state.insert(key, incoming.clone());
    }
}

fn change(key: usize, wall: u64, counter: u32, device: usize, delete: bool) -> Record {
    let key = RecordKey::new("notes", format!("n{key}"));
    let hlc = Hlc::new(wall, counter, DeviceId::new(format!("d{device}")).unwrap()).unwrap();
    if delete {
        Record::tombstone(key, hlc)
    } else {
        Record::new(key, json!({"wall": wall, "device": device}), hlc)
    }
}

/// For each key, the change with the highest clock (computed without the merge rule).
fn expected(changes: &[Record]) -> State {
    let mut best = State::new();
    for c in changes {
        let newer = best.get(&c.key()).is_none_or(|b| c.hlc > b.hlc);
        if newer {
            best.insert(c.key(), c.clone());
        }
    }
    best
}

proptest! {
    /// Random changes from several devices, delivered to several replicas in different
    /// orders with duplicates: every replica ends equal, holding exactly the
    /// highest-clock change of each record.
    #[test]
    fn replicas_converge_whatever_the_delivery_order(
        raw in prop::collection::vec((0usize..5, 0u64..20, 0u32..3, 0usize..4, any::<bool>()), 1..40),
        orders in prop::collection::vec(
            (prop::collection::vec(any::<prop::sample::Index>(), 0..60), any::<u64>()),
            3,
        ),
    ) {
        // One change per clock: a device never issues the same timestamp twice.
        let mut seen = BTreeSet::new();
        let changes: Vec<Record> = raw
            .into_iter()
            .filter(|&(_, wall, counter, device, _)| seen.insert((wall, counter, device)))
            .map(|(key, wall, counter, device, delete)| change(key, wall, counter, device, delete))
            .collect();
        let want = expected(&changes);
        for (duplicates, seed) in orders {
            // Every change at least once, plus random duplicates, in a seeded random order.
            let mut delivery: Vec<&Record> = changes.iter().collect();
            delivery.extend(duplicates.iter().map(|i| i.get(&changes)));
            let mut rng = seed | 1;
            for i in (1..delivery.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                delivery.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            let mut replica = State::new();
            for record in delivery {
                apply(&mut replica, record);
            }
            prop_assert_eq!(&replica, &want);
        }
    }
}

/// An outbox entry as the client keeps it: the change's clock and the version it was made
/// from (`None` with `created` for a record made on the device).
#[derive(Debug, Clone)]
struct Entry {
    hlc: Hlc,
    base: Option<Record>,
    created: bool,
}

impl Entry {
    fn pending(&self) -> Pending<'_> {
        Pending::Change {
            base: self.base.as_ref().map(|b| &b.hlc),
        }
    }

    fn push_base(&self) -> Option<Hlc> {
        self.base.as_ref().map(|b| b.hlc.clone())
    }
}

/// A device as the client implements it: a local state, an outbox of unpushed changes with
/// their bases, a pull cursor and a conflict log.
struct Device {
    clock: HlcClock,
    state: State,
    outbox: BTreeMap<RecordKey, Entry>,
    cursor: usize,
    /// `(winner, loser, kind)`.
    log: Vec<(Record, Record, ConflictKind)>,
    rules: MergeRules,
}

/// The server: one version per record, the log of stored versions in server order, and
/// the rule that stores a change only over the version it was made from.
#[derive(Default)]
struct Server {
    state: State,
    log: Vec<Record>,
}

impl Server {
    /// Admits each change; returns the held version of each one it did not take.
    fn push(&mut self, changes: &[(Record, Option<Hlc>)]) -> Vec<Record> {
        let mut superseded: Vec<Record> = Vec::new();
        for (c, base) in changes {
            let held = self.state.get(&c.key());
            match admit(held.map(|r| &r.hlc), &c.hlc, base.as_ref()) {
                Admit::Take => {
                    self.state.insert(c.key(), c.clone());
                    self.log.push(c.clone());
                }
                Admit::Duplicate => {}
                Admit::Superseded | Admit::Stale => {
                    let held = self.state[&c.key()].clone();
                    if !superseded.iter().any(|s| s.key() == held.key()) {
                        superseded.push(held);
                    }
                }
            }
        }
        superseded
    }
}

fn key_of(key: usize) -> RecordKey {
    // Records 0..3 are notes (merged three-way), 3 is a preference (last writer wins).
    if key < 3 {
        RecordKey::new("notes", format!("n{key}"))
    } else {
        RecordKey::new("prefs", "theme")
    }
}

/// What a user does to a record.
#[derive(Debug, Clone, Copy)]
enum Edit {
    /// Adds a line of its own to the body (notes), or sets the value (the preference).
    Add,
    /// Sets the title, replacing the one this device shows.
    Title,
    Delete,
}

impl Device {
    fn new(n: usize) -> Self {
        Self {
            clock: HlcClock::new(DeviceId::new(format!("d{n}")).unwrap()),
            state: State::new(),
            outbox: BTreeMap::new(),
            cursor: 0,
            log: Vec::new(),
            rules: MergeRules::new().with("notes", MergeRule::three_way(["updated_at"])),
        }
    }

    /// Makes `edit` with the unique `token`; returns the tokens it knowingly replaced
    /// (what this device showed of the record and the edit removes).
    fn edit(&mut self, key: usize, edit: Edit, token: &str, now: u64) -> Vec<String> {
        let hlc = self.clock.tick(now).unwrap();
        let key = key_of(key);
        let current = self
            .state
            .get(&key)
            .filter(|r| !r.deleted)
            .map(|r| r.value.clone());
        let mut replaced = Vec::new();
        let record = match edit {
            Edit::Delete => {
                replaced.extend(current.as_ref().map(tokens_in).unwrap_or_default());
                Record::tombstone(key.clone(), hlc.clone())
            }
            _ if key.collection == "prefs" => {
                replaced.extend(current.as_ref().map(tokens_in).unwrap_or_default());
                Record::new(key.clone(), json!({ "value": token }), hlc.clone())
            }
            Edit::Add | Edit::Title => {
                let mut value = current.unwrap_or_else(|| json!({}));
                let object = value.as_object_mut().unwrap();
                object.insert("updated_at".into(), json!(now));
                if let Edit::Add = edit {
                    let body = object.get("body").and_then(Value::as_str).unwrap_or("");
                    let body = format!("{body}{token}\n");
                    object.insert("body".into(), json!(body));
                } else {
                    if let Some(old) = object.get("title") {
                        replaced.extend(tokens_in(old));
                    }
                    object.insert("title".into(), json!(token));
                }
                Record::new(key.clone(), value, hlc.clone())
            }
        };
        let entry = match self.outbox.get(&key) {
            Some(pending) => Entry {
                hlc,
                ..pending.clone()
            },
            None => Entry {
                hlc,
                base: self.state.get(&key).cloned(),
                created: !self.state.contains_key(&key),
            },
        };
        self.state.insert(key.clone(), record);
        self.outbox.insert(key, entry);
        replaced
    }

    fn receive(&mut self, incoming: &Record, now: u64) {
        self.clock.observe(&incoming.hlc, now).unwrap();
        let key = incoming.key();
        let own = incoming.hlc.device() == self.clock.device();
        let entry = self.outbox.get(&key).cloned();
        let pending = entry.as_ref().map_or(Pending::No, Entry::pending);
        match reconcile(self.state.get(&key), pending, incoming, own) {
            Reconcile::Apply => {
                self.state.insert(key, incoming.clone());
            }
            Reconcile::ApplyOverPending { .. } => unreachable!("no replays here"),
            Reconcile::KeepPending | Reconcile::Ignore => {}
            Reconcile::Advance => {
                let entry = self.outbox.get_mut(&key).unwrap();
                entry.base = Some(incoming.clone());
                entry.created = false;
            }
            Reconcile::Concurrent { local } => {
                let entry = entry.unwrap();
                let resolution = resolve(
                    self.rules.rule(&key.collection),
                    entry.base.as_ref().map(Version::from),
                    Version::from(&local),
                    Version::from(incoming),
                );
                let (stored, logged) = match resolution {
                    Resolution::TakeIncoming { logged } => {
                        self.outbox.remove(&key);
                        (incoming.clone(), logged)
                    }
                    Resolution::Rebase { value, logged } => {
                        let hlc = self.clock.tick(now).unwrap();
                        let record = match value {
                            Some(v) => Record::new(key.clone(), v, hlc.clone()),
                            None => Record::tombstone(key.clone(), hlc.clone()),
                        };
                        let base = Some(incoming.clone());
                        self.outbox.insert(
                            key.clone(),
                            Entry {
                                hlc,
                                base,
                                created: false,
                            },
                        );
                        (record, logged)
                    }
                };
                if let Some(logged) = logged {
                    let loser = match logged.version {
                        Side::Local => local.clone(),
                        Side::Incoming => incoming.clone(),
                    };
                    self.log.push((stored.clone(), loser, logged.kind));
                }
                self.state.insert(key, stored);
            }
        }
    }

    /// Pushes the whole outbox. With `lost`, the server applies the push but the reply
    /// never arrives. Taken changes leave the outbox, unless changed again meanwhile (the
    /// newer change is then made from them); the versions handed back are received as
    /// concurrent with what is still pending.
    fn push(&mut self, server: &mut Server, now: u64, lost: bool) {
        let batch: Vec<(Record, Option<Hlc>)> = self
            .outbox
            .iter()
            .map(|(k, e)| (self.state[k].clone(), e.push_base()))
            .collect();
        let superseded = server.push(&batch);
        if lost {
            return;
        }
        let handed_back: BTreeSet<RecordKey> = superseded.iter().map(Record::key).collect();
        for (change, _) in &batch {
            let key = change.key();
            if handed_back.contains(&key) {
                continue;
            }
            if self.outbox[&key].hlc == change.hlc {
                self.outbox.remove(&key);
            } else {
                let entry = self.outbox.get_mut(&key).unwrap();
                entry.base = Some(change.clone());
                entry.created = false;
            }
        }
        for held in &superseded {
            self.receive(held, now);
        }
    }

    fn pull(&mut self, server: &Server, now: u64) {
        let page: Vec<Record> = server.log[self.cursor..].to_vec();
        self.cursor = server.log.len();
        for r in &page {
            self.receive(r, now);
        }
    }
}

/// The tokens (`t<n>x`) written into a value.
fn tokens_in(value: &Value) -> Vec<String> {
    let text = value.to_string();
    text.match_indices('t')
        .filter_map(|(i, _)| {
            let rest = &text[i + 1..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            (digits > 0 && rest[digits..].starts_with('x'))
                .then(|| text[i..i + digits + 2].to_owned())
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Step {
    Edit {
        device: usize,
        key: usize,
        edit: Edit,
    },
    Push {
        device: usize,
        lost: bool,
    },
    Pull {
        device: usize,
    },
    Tick {
        ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let edit = prop_oneof![5 => Just(Edit::Add), 2 => Just(Edit::Title), 1 => Just(Edit::Delete)];
    prop_oneof![
        5 => (0usize..3, 0usize..4, edit)
            .prop_map(|(device, key, edit)| Step::Edit { device, key, edit }),
        2 => (0usize..3, prop::bool::weighted(0.15))
            .prop_map(|(device, lost)| Step::Push { device, lost }),
        2 => (0usize..3).prop_map(|device| Step::Pull { device }),
        1 => (0u64..3).prop_map(|ms| Step::Tick { ms }),
    ]
}

proptest! {
    /// Three devices edit, push and pull in a random interleaving (some push replies
    /// lost), with clocks that stand still or move. The server stores a change only over
    /// the version it was made from; devices merge what it hands back. After everyone
    /// syncs: all devices equal the server, nothing is pending, and every edit ever made
    /// is in the final value, or was knowingly replaced (by an edit made on a device
    /// that showed it), or is in a conflict log as a version that lost.
    #[test]
    fn devices_converge_and_no_edit_vanishes_unmerged_and_unlogged(
        steps in prop::collection::vec(step(), 1..100),
    ) {
        let mut server = Server::default();
        let mut devices: Vec<Device> = (0..3).map(Device::new).collect();
        let mut now = 1_000u64;
        let mut made: Vec<(RecordKey, String)> = Vec::new();
        let mut replaced: BTreeSet<String> = BTreeSet::new();
        for step in steps {
            match step {
                Step::Edit { device, key, edit } => {
                    let token = format!("t{}x", made.len());
                    replaced.extend(devices[device].edit(key, edit, &token, now));
                    if !matches!(edit, Edit::Delete) {
                        made.push((key_of(key), token));
                    }
                }
                Step::Push { device, lost } => devices[device].push(&mut server, now, lost),
                Step::Pull { device } => devices[device].pull(&server, now),
                Step::Tick { ms } => now += ms,
            }
        }
        // Everyone syncs in turn until nothing is pending.
        for _ in 0..10 {
            for d in &mut devices {
                d.push(&mut server, now, false);
                d.pull(&server, now);
            }
            if devices.iter().all(|d| d.outbox.is_empty()) {
                break;
            }
        }
        for d in &mut devices {
            d.pull(&server, now);
        }
        for d in &devices {
            prop_assert!(d.outbox.is_empty(), "still pending: {:?}", d.outbox);
            prop_assert_eq!(&d.state, &server.state);
        }
        for (key, token) in &made {
            let kept = server
                .state
                .get(key)
                .is_some_and(|r| tokens_in(&r.value).contains(token));
            let logged = devices.iter().any(|d| {
                d.log
                    .iter()
                    .any(|(_, loser, _)| tokens_in(&loser.value).contains(token))
            });
            prop_assert!(
                kept || replaced.contains(token) || logged,
                "edit {} of {:?} vanished: final {:?}", token, key, server.state.get(key)
            );
        }
        // A merge that lost nothing is logged as merged; the log names versions of the
        // record it is about.
        for d in &devices {
            for (winner, loser, _) in &d.log {
                prop_assert_eq!(winner.key(), loser.key());
            }
        }
    }
}
