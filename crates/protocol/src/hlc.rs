//! Hybrid logical clock (Kulkarni et al., 2014).
//!
//! An [`Hlc`] is `(wall_ms, counter, device)`. Timestamps from one clock strictly increase,
//! a clock that observes a remote timestamp moves past it, and the encoded string form
//! sorts exactly like the clock: `a < b` if and only if `a.to_string() < b.to_string()`.
//! That lets stores and databases order changes with a plain string index.
//!
//! Encoding: `{wall_ms:012x}-{counter:08x}-{device}`, lowercase hex, fixed width for the
//! two numbers, so lexicographic order is numeric order.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest wall-clock value the 12-hex-digit encoding holds (year 10889).
pub const MAX_WALL_MS: u64 = 0xffff_ffff_ffff;

/// How far ahead of the local physical clock a remote timestamp may be before it is
/// refused: a peer whose clock is wrong must not drag every other clock into the future.
pub const MAX_DRIFT_MS: u64 = 24 * 60 * 60 * 1000;

/// A device's identity inside the clock: 1 to 32 characters of `[0-9a-z]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(String);

impl DeviceId {
    pub const MAX_LEN: usize = 32;

    /// Validates `id` as a device id.
    pub fn new(id: impl Into<String>) -> Result<Self, HlcError> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
        if valid {
            Ok(Self(id))
        } else {
            Err(HlcError::InvalidDeviceId(id))
        }
    }

    /// A device id made of 16 lowercase hex digits of `random` (64 random bits).
    pub fn from_random(random: u64) -> Self {
        Self(format!("{random:016x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One hybrid-logical-clock timestamp. Ordered by wall time, then counter, then device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hlc {
    wall_ms: u64,
    counter: u32,
    device: DeviceId,
}

impl Hlc {
    pub fn new(wall_ms: u64, counter: u32, device: DeviceId) -> Result<Self, HlcError> {
        if wall_ms > MAX_WALL_MS {
            return Err(HlcError::WallClockOutOfRange(wall_ms));
        }
        Ok(Self {
            wall_ms,
            counter,
            device,
        })
    }

    pub fn wall_ms(&self) -> u64 {
        self.wall_ms
    }

    pub fn counter(&self) -> u32 {
        self.counter
    }

    pub fn device(&self) -> &DeviceId {
        &self.device
    }
}

impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.wall_ms, self.counter, &self.device).cmp(&(
            other.wall_ms,
            other.counter,
            &other.device,
        ))
    }
}

impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:012x}-{:08x}-{}",
            self.wall_ms, self.counter, self.device
        )
    }
}

impl FromStr for Hlc {
    type Err = HlcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || HlcError::Malformed(s.to_owned());
        let mut parts = s.splitn(3, '-');
        let (wall, counter, device) = match (parts.next(), parts.next(), parts.next()) {
            (Some(w), Some(c), Some(d)) => (w, c, d),
            _ => return Err(malformed()),
        };
        let is_lower_hex = |p: &str| {
            p.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if wall.len() != 12 || counter.len() != 8 || !is_lower_hex(wall) || !is_lower_hex(counter) {
            return Err(malformed());
        }
        let wall_ms = u64::from_str_radix(wall, 16).map_err(|_| malformed())?;
        let counter = u32::from_str_radix(counter, 16).map_err(|_| malformed())?;
        Hlc::new(wall_ms, counter, DeviceId::new(device)?)
    }
}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for DeviceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DeviceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DeviceId::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// OpenAPI: both serialise as strings.
#[cfg(feature = "openapi")]
mod openapi {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    impl utoipa::PartialSchema for super::DeviceId {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9a-z]{1,32}$"))
                .description(Some(
                    "A device's identity: 1 to 32 characters of 0-9 and a-z.",
                ))
                .examples([serde_json::json!("3f9a1c0b7d2e4f60")])
                .into()
        }
    }

    impl utoipa::ToSchema for super::DeviceId {}

    impl utoipa::PartialSchema for super::Hlc {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-z]{1,32}$"))
                .description(Some(
                    "Hybrid logical clock: `{wall_ms:012x}-{counter:08x}-{device}`; \
                     string order is clock order.",
                ))
                .examples([serde_json::json!("018bcfe56800-00000000-3f9a1c0b7d2e4f60")])
                .into()
        }
    }

    impl utoipa::ToSchema for super::Hlc {}
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HlcError {
    #[error("malformed clock value {0:?}")]
    Malformed(String),
    #[error("invalid device id {0:?}: expected 1 to 32 characters of 0-9 and a-z")]
    InvalidDeviceId(String),
    #[error("wall clock {0} ms is out of the encodable range")]
    WallClockOutOfRange(u64),
    #[error(
        "remote clock is {ahead_ms} ms ahead of this device's clock, more than the allowed drift"
    )]
    DriftTooLarge { ahead_ms: u64 },
    #[error("the clock reached the end of its range")]
    CounterOverflow,
}

/// The clock of one device. Pure: the caller passes the physical time in, so the clock
/// works the same in a page, a service worker, the server and tests.
#[derive(Debug, Clone)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// A clock for `device` that has seen nothing yet.
    pub fn new(device: DeviceId) -> Self {
        Self {
            last: Hlc {
                wall_ms: 0,
                counter: 0,
                device,
            },
        }
    }

    /// A clock resumed from the last timestamp this device issued or observed (kept in
    /// storage so a device never reissues an old timestamp after a restart).
    pub fn resume(device: DeviceId, last_seen: &Hlc) -> Self {
        Self {
            last: Hlc {
                wall_ms: last_seen.wall_ms,
                counter: last_seen.counter,
                device,
            },
        }
    }

    pub fn device(&self) -> &DeviceId {
        &self.last.device
    }

    /// The latest timestamp issued or observed.
    pub fn last(&self) -> &Hlc {
        &self.last
    }

    /// A new timestamp for a local change, greater than every timestamp issued or
    /// observed before.
    pub fn tick(&mut self, physical_ms: u64) -> Result<Hlc, HlcError> {
        let physical_ms = physical_ms.min(MAX_WALL_MS);
        let (wall_ms, counter) = if physical_ms > self.last.wall_ms {
            (physical_ms, 0)
        } else {
            self.after(self.last.wall_ms, self.last.counter)?
        };
        self.set(wall_ms, counter);
        Ok(self.last.clone())
    }

    /// Brings the clock back to `trusted_ms + MAX_DRIFT_MS` if it ran beyond that, and
    /// says whether it did. `trusted_ms` is the clock the protocol checks against (the
    /// sync server's): every timestamp beyond the limit is refused, so a clock that got
    /// there (the device's own clock was set days ahead, then corrected) would otherwise
    /// issue refused timestamps until real time caught up. Every accepted timestamp is
    /// within the limit, so the limited clock still orders after each of them.
    pub fn limit_to(&mut self, trusted_ms: u64) -> bool {
        let limit = trusted_ms.min(MAX_WALL_MS).saturating_add(MAX_DRIFT_MS);
        if self.last.wall_ms <= limit {
            return false;
        }
        self.set(limit.min(MAX_WALL_MS), 0);
        true
    }

    /// Moves the clock past a timestamp received from another device (on every record
    /// seen) and returns the new local timestamp. Refuses remote clocks more than
    /// [`MAX_DRIFT_MS`] ahead of `physical_ms`, leaving the clock unchanged.
    pub fn observe(&mut self, remote: &Hlc, physical_ms: u64) -> Result<Hlc, HlcError> {
        let physical_ms = physical_ms.min(MAX_WALL_MS);
        if remote.wall_ms > physical_ms.saturating_add(MAX_DRIFT_MS) {
            return Err(HlcError::DriftTooLarge {
                ahead_ms: remote.wall_ms - physical_ms,
            });
        }
        self.witness(remote, physical_ms)
    }

    /// [`HlcClock::observe`] without the drift check: for a timestamp this device stores
    /// anyway (a record the server accepted, a change of another context of this
    /// device), which later local changes of the same record must beat.
    pub fn witness(&mut self, remote: &Hlc, physical_ms: u64) -> Result<Hlc, HlcError> {
        let physical_ms = physical_ms.min(MAX_WALL_MS);
        let local = &self.last;
        let wall_ms = physical_ms.max(local.wall_ms).max(remote.wall_ms);
        let (wall_ms, counter) = if wall_ms == local.wall_ms && wall_ms == remote.wall_ms {
            self.after(wall_ms, local.counter.max(remote.counter))?
        } else if wall_ms == local.wall_ms {
            self.after(wall_ms, local.counter)?
        } else if wall_ms == remote.wall_ms {
            self.after(wall_ms, remote.counter)?
        } else {
            (wall_ms, 0)
        };
        self.set(wall_ms, counter);
        Ok(self.last.clone())
    }

    /// Moves the clock up to `stored` (a timestamp another context of this device issued
    /// or observed) without issuing a new one.
    pub fn catch_up(&mut self, stored: &Hlc) {
        if (stored.wall_ms, stored.counter) > (self.last.wall_ms, self.last.counter) {
            self.set(stored.wall_ms, stored.counter);
        }
    }

    /// The timestamp right after `(wall_ms, counter)`: the next counter, or the next
    /// millisecond once the counter is exhausted.
    fn after(&self, wall_ms: u64, counter: u32) -> Result<(u64, u32), HlcError> {
        match counter.checked_add(1) {
            Some(next) => Ok((wall_ms, next)),
            None if wall_ms < MAX_WALL_MS => Ok((wall_ms + 1, 0)),
            None => Err(HlcError::CounterOverflow),
        }
    }

    fn set(&mut self, wall_ms: u64, counter: u32) {
        self.last.wall_ms = wall_ms;
        self.last.counter = counter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn device(s: &str) -> DeviceId {
        DeviceId::new(s).unwrap()
    }

    fn hlc(wall_ms: u64, counter: u32, d: &str) -> Hlc {
        Hlc::new(wall_ms, counter, device(d)).unwrap()
    }

    #[test]
    fn orders_by_wall_then_counter_then_device() {
        assert!(hlc(1, 9, "z") < hlc(2, 0, "a"));
        assert!(hlc(2, 0, "z") < hlc(2, 1, "a"));
        assert!(hlc(2, 1, "a") < hlc(2, 1, "b"));
        assert_eq!(hlc(2, 1, "a"), hlc(2, 1, "a"));
    }

    #[test]
    fn encodes_fixed_width_lowercase_hex() {
        let h = hlc(0x18c_2f3a_1b2c, 3, "ab12");
        assert_eq!(h.to_string(), "018c2f3a1b2c-00000003-ab12");
        assert_eq!(h.to_string().parse::<Hlc>().unwrap(), h);
    }

    #[test]
    fn rejects_malformed_encodings() {
        for bad in [
            "",
            "018c2f3a1b2c-00000003",
            "18c2f3a1b2c-00000003-ab",
            "018c2f3a1b2c-0000003-ab",
            "018C2F3A1B2C-00000003-ab",
            "018c2f3a1b2c-00000003-",
            "018c2f3a1b2c-00000003-AB",
            "018c2f3a1b2c-+0000003-ab",
        ] {
            assert!(bad.parse::<Hlc>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn serde_uses_the_string_form() {
        let h = hlc(5, 1, "d1");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, "\"000000000005-00000001-d1\"");
        assert_eq!(serde_json::from_str::<Hlc>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Hlc>("\"nope\"").is_err());
    }

    #[test]
    fn tick_is_strictly_increasing_even_when_the_wall_clock_goes_back() {
        let mut clock = HlcClock::new(device("a"));
        let t1 = clock.tick(1_000).unwrap();
        let t2 = clock.tick(1_000).unwrap();
        let t3 = clock.tick(900).unwrap();
        let t4 = clock.tick(2_000).unwrap();
        assert!(t1 < t2 && t2 < t3 && t3 < t4);
        assert_eq!((t3.wall_ms(), t3.counter()), (1_000, 2));
        assert_eq!((t4.wall_ms(), t4.counter()), (2_000, 0));
    }

    #[test]
    fn observe_moves_past_a_remote_clock_ahead_of_us() {
        let mut clock = HlcClock::new(device("a"));
        clock.tick(1_000).unwrap();
        let remote = hlc(5_000, 7, "b");
        let seen = clock.observe(&remote, 1_200).unwrap();
        assert!(seen > remote);
        assert_eq!((seen.wall_ms(), seen.counter()), (5_000, 8));
        assert!(clock.tick(1_300).unwrap() > seen);
    }

    #[test]
    fn observe_of_an_older_remote_keeps_local_time() {
        let mut clock = HlcClock::new(device("a"));
        let t = clock.tick(10_000).unwrap();
        let seen = clock.observe(&hlc(3, 0, "b"), 9_000).unwrap();
        assert_eq!((seen.wall_ms(), seen.counter()), (10_000, t.counter() + 1));
    }

    #[test]
    fn observe_refuses_a_remote_far_in_the_future() {
        let mut clock = HlcClock::new(device("a"));
        let before = clock.tick(1_000).unwrap();
        let err = clock
            .observe(&hlc(1_000 + MAX_DRIFT_MS + 1, 0, "b"), 1_000)
            .unwrap_err();
        assert!(matches!(err, HlcError::DriftTooLarge { .. }));
        assert_eq!(clock.last(), &before);
    }

    #[test]
    fn an_exhausted_counter_moves_to_the_next_millisecond() {
        let mut clock = HlcClock::resume(device("a"), &hlc(10, u32::MAX, "a"));
        let t = clock.tick(10).unwrap();
        assert_eq!((t.wall_ms(), t.counter()), (11, 0));
        let seen = clock.witness(&hlc(11, u32::MAX, "b"), 5).unwrap();
        assert_eq!((seen.wall_ms(), seen.counter()), (12, 0));
        let mut end = HlcClock::resume(device("a"), &hlc(MAX_WALL_MS, u32::MAX, "a"));
        assert_eq!(end.tick(MAX_WALL_MS), Err(HlcError::CounterOverflow));
    }

    #[test]
    fn a_clock_beyond_the_drift_of_a_trusted_clock_is_brought_back_to_the_limit() {
        let day = MAX_DRIFT_MS;
        let mut clock = HlcClock::resume(device("a"), &hlc(10 * day, 3, "a"));
        // Physical time far behind never moves the clock back by itself.
        let t = clock.tick(day).unwrap();
        assert_eq!((t.wall_ms(), t.counter()), (10 * day, 4));
        // Within the drift limit of the trusted clock it keeps its lead.
        assert!(!clock.limit_to(9 * day));
        assert_eq!(clock.last().wall_ms(), 10 * day);
        // Beyond it, the clock comes back to the limit, past anything accepted.
        assert!(clock.limit_to(8 * day));
        let t = clock.tick(8 * day).unwrap();
        assert_eq!((t.wall_ms(), t.counter()), (9 * day, 1));
        assert!(t > hlc(9 * day, 0, "z"));
    }

    #[test]
    fn witness_moves_past_any_remote_and_catch_up_only_forward() {
        let mut clock = HlcClock::new(device("a"));
        let far = hlc(1_000 + 3 * MAX_DRIFT_MS, 2, "b");
        assert!(clock.witness(&far, 1_000).unwrap() > far);
        let mut other = HlcClock::resume(device("c"), &hlc(50, 9, "c"));
        other.catch_up(&hlc(40, 100, "a"));
        assert_eq!((other.last().wall_ms(), other.last().counter()), (50, 9));
        other.catch_up(&hlc(60, 1, "a"));
        assert_eq!((other.last().wall_ms(), other.last().counter()), (60, 1));
        assert_eq!(other.device().as_str(), "c");
    }

    #[test]
    fn resume_continues_after_the_stored_timestamp() {
        let stored = hlc(50_000, 4, "a");
        let mut clock = HlcClock::resume(device("a"), &stored);
        assert!(clock.tick(10).unwrap() > stored);
    }

    #[test]
    fn device_ids_are_validated() {
        assert!(DeviceId::new("").is_err());
        assert!(DeviceId::new("A").is_err());
        assert!(DeviceId::new("a-b").is_err());
        assert!(DeviceId::new("a".repeat(33)).is_err());
        assert_eq!(DeviceId::from_random(0xab).as_str(), "00000000000000ab");
    }

    fn arb_hlc() -> impl Strategy<Value = Hlc> {
        (0..=MAX_WALL_MS, any::<u32>(), "[0-9a-z]{1,32}")
            .prop_map(|(w, c, d)| Hlc::new(w, c, DeviceId::new(d).unwrap()).unwrap())
    }

    proptest! {
        #[test]
        fn string_order_is_clock_order(a in arb_hlc(), b in arb_hlc()) {
            prop_assert_eq!(a.cmp(&b), a.to_string().cmp(&b.to_string()));
        }

        #[test]
        fn encoding_round_trips(a in arb_hlc()) {
            prop_assert_eq!(a.to_string().parse::<Hlc>().unwrap(), a);
        }

        #[test]
        fn every_issued_timestamp_exceeds_everything_seen(
            events in proptest::collection::vec((any::<bool>(), 0u64..100_000, arb_hlc()), 1..50)
        ) {
            let mut clock = HlcClock::new(DeviceId::new("local").unwrap());
            let mut max_seen: Option<Hlc> = None;
            for (is_remote, physical, remote) in events {
                let issued = if is_remote {
                    match clock.observe(&remote, physical) {
                        Ok(t) => { prop_assert!(t > remote); t }
                        Err(_) => continue,
                    }
                } else {
                    clock.tick(physical).unwrap()
                };
                if let Some(prev) = &max_seen {
                    prop_assert!(issued.wall_ms() > prev.wall_ms()
                        || (issued.wall_ms() == prev.wall_ms() && issued.counter() > prev.counter()));
                }
                max_seen = Some(issued);
            }
        }
    }
}
