//! Property tests of the merge rule as the whole system uses it: devices that edit while
//! apart, push and pull through a server in any interleaving, converge to one state, and
//! a change is only ever lost to a higher-clock change of the same record (and then, if it
//! was a device's unpushed change, it is in that device's conflict log).

use std::collections::{BTreeMap, BTreeSet};

use cairn_protocol::{
    merge, reconcile, DeviceId, Hlc, HlcClock, Merge, Reconcile, Record, RecordKey,
};
use proptest::prelude::*;
use serde_json::json;

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

/// A device as the client implements it: a local state, an outbox of unpushed changes,
/// a pull cursor and a conflict log.
struct Device {
    clock: HlcClock,
    state: State,
    outbox: BTreeSet<RecordKey>,
    cursor: usize,
    conflicts: Vec<(Record, Record)>,
}

/// The server: one state and the log of stored versions in server order.
#[derive(Default)]
struct Server {
    state: State,
    log: Vec<Record>,
}

impl Server {
    /// Returns the winners of the changes it did not take.
    fn push(&mut self, changes: &[Record]) -> Vec<Record> {
        let mut superseded = Vec::new();
        for c in changes {
            match merge(self.state.get(&c.key()).map(|r| &r.hlc), &c.hlc) {
                Merge::Take => {
                    self.state.insert(c.key(), c.clone());
                    self.log.push(c.clone());
                }
                Merge::Duplicate => {}
                Merge::Keep => superseded.push(self.state[&c.key()].clone()),
            }
        }
        superseded
    }
}

impl Device {
    fn new(n: usize) -> Self {
        Self {
            clock: HlcClock::new(DeviceId::new(format!("d{n}")).unwrap()),
            state: State::new(),
            outbox: BTreeSet::new(),
            cursor: 0,
            conflicts: Vec::new(),
        }
    }

    fn edit(&mut self, key: usize, now: u64, delete: bool) -> Record {
        let hlc = self.clock.tick(now).unwrap();
        let key = RecordKey::new("notes", format!("n{key}"));
        let record = if delete {
            Record::tombstone(key.clone(), hlc)
        } else {
            let by = self.clock.device().to_string();
            Record::new(key.clone(), json!({"by": by, "at": now}), hlc)
        };
        self.state.insert(key.clone(), record.clone());
        self.outbox.insert(key);
        record
    }

    fn receive(&mut self, incoming: &Record, now: u64) {
        self.clock.observe(&incoming.hlc, now).unwrap();
        let key = incoming.key();
        let pending = self.outbox.contains(&key);
        match reconcile(self.state.get(&key), pending, incoming) {
            Reconcile::Apply => {
                self.state.insert(key, incoming.clone());
            }
            Reconcile::ApplyOverPending { loser } => {
                self.conflicts.push((incoming.clone(), loser));
                self.outbox.remove(&key);
                self.state.insert(key, incoming.clone());
            }
            Reconcile::KeepPending | Reconcile::Ignore => {}
        }
    }

    /// Pushes the whole outbox. A superseded change is still this device's version when
    /// the reply arrives, so it is reconciled as pending: it lands in the conflict log.
    fn push(&mut self, server: &mut Server, now: u64) {
        let batch: Vec<Record> = self.outbox.iter().map(|k| self.state[k].clone()).collect();
        let superseded = server.push(&batch);
        let lost: BTreeSet<RecordKey> = superseded.iter().map(Record::key).collect();
        self.outbox.retain(|k| lost.contains(k));
        for winner in &superseded {
            self.receive(winner, now);
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

#[derive(Debug, Clone)]
enum Step {
    Edit {
        device: usize,
        key: usize,
        delete: bool,
    },
    Push {
        device: usize,
    },
    Pull {
        device: usize,
    },
    Tick {
        ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..3, 0usize..4, prop::bool::weighted(0.2))
            .prop_map(|(device, key, delete)| Step::Edit { device, key, delete }),
        2 => (0usize..3).prop_map(|device| Step::Push { device }),
        2 => (0usize..3).prop_map(|device| Step::Pull { device }),
        1 => (0u64..3).prop_map(|ms| Step::Tick { ms }),
    ]
}

proptest! {
    /// Three devices edit, push and pull in a random interleaving, with clocks that stand
    /// still or move, so equal wall times are common. After everyone syncs, all devices
    /// equal the server; each record holds the highest-clock edit ever made to it (so an
    /// edit is only lost to a higher-clock edit of the same record); and every edit that
    /// was overwritten while still unpushed is in its device's conflict log, beside a
    /// winner with a higher clock.
    #[test]
    fn devices_converge_and_lose_nothing_silently(steps in prop::collection::vec(step(), 1..80)) {
        let mut server = Server::default();
        let mut devices: Vec<Device> = (0..3).map(Device::new).collect();
        let mut now = 1_000u64;
        let mut edits = Vec::new();
        for step in steps {
            match step {
                Step::Edit { device, key, delete } => {
                    edits.push(devices[device].edit(key, now, delete))
                }
                Step::Push { device } => devices[device].push(&mut server, now),
                Step::Pull { device } => devices[device].pull(&server, now),
                Step::Tick { ms } => now += ms,
            }
        }
        for _ in 0..2 {
            for d in &mut devices {
                d.push(&mut server, now);
                d.pull(&server, now);
            }
        }
        prop_assert_eq!(&server.state, &expected(&edits));
        for d in &devices {
            prop_assert_eq!(&d.state, &server.state);
            prop_assert!(d.outbox.is_empty());
            for (winner, loser) in &d.conflicts {
                prop_assert!(winner.hlc > loser.hlc);
                prop_assert_eq!(winner.key(), loser.key());
                prop_assert_eq!(loser.hlc.device(), d.clock.device());
            }
        }
        // Every edit that never reached the server (its device replaced it only by
        // receiving a newer remote version) is in that device's conflict log.
        let on_server: BTreeSet<String> = server.log.iter().map(|r| r.hlc.to_string()).collect();
        for edit in &edits {
            if on_server.contains(&edit.hlc.to_string()) {
                continue;
            }
            let device = &devices[edit.hlc.device().as_str()[1..].parse::<usize>().unwrap()];
            let overwritten_locally = edits.iter().any(|e| {
                e.key() == edit.key() && e.hlc.device() == edit.hlc.device() && e.hlc > edit.hlc
            });
            let logged = device.conflicts.iter().any(|(_, loser)| loser == edit);
            prop_assert!(
                overwritten_locally || logged,
                "edit {:?} never reached the server and is not in the conflict log", edit
            );
        }
    }
}
