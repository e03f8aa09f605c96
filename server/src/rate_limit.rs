//! Token-bucket rate limits, in memory: per user for the authenticated API, per client
//! address for registration and log-in, per account (e-mail address) for failed log-ins;
//! and limits on what is in flight at once: API requests overall and per account.
//! Each server process counts on its own: with several instances behind a load
//! balancer, each allows the full rate (the limits are there to keep one client from
//! taking a process down and to make password guessing slow, and per-instance counting
//! does both without a database write per request; `n` instances allow `n` times the
//! guesses, which an operator sets the rates for).
//!
//! The client's address is the TCP peer's, unless the peer is a trusted reverse proxy
//! (`--trusted-proxy`): then it is the right-most address of `X-Forwarded-For` that is
//! not itself a trusted proxy (what the nearest untrusted party said it connected from;
//! anything further left may be forged). IPv6 clients are counted by their /64, since
//! one host may use any address in it.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::db::UserId;
use crate::{ApiError, AppState};

/// A rate: `per_minute` requests a minute on average, up to `burst` at once. A
/// `per_minute` of 0 turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl RateLimit {
    pub const OFF: RateLimit = RateLimit {
        per_minute: 0,
        burst: 0,
    };

    pub fn is_off(&self) -> bool {
        self.per_minute == 0
    }
}

/// Above this many tracked keys, buckets that have filled up again are forgotten.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug)]
pub struct RateLimiter<K> {
    limit: RateLimit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says in how many seconds one will be there.
    pub fn check(&self, key: K) -> Result<(), ApiError> {
        self.check_at(key, Instant::now()).map_err(rate_limited)
    }

    /// Whether `key` has a token, without taking it (`429` if not).
    pub fn peek(&self, key: K) -> Result<(), ApiError> {
        self.update_at(key, Instant::now(), false)
            .map_err(rate_limited)
    }

    /// Takes a token for `key` if there is one (after a [`RateLimiter::peek`]: a failure).
    pub fn take(&self, key: K) {
        let _ = self.update_at(key, Instant::now(), true);
    }

    fn check_at(&self, key: K, now: Instant) -> Result<(), Duration> {
        self.update_at(key, now, true)
    }

    fn update_at(&self, key: K, now: Instant, consume: bool) -> Result<(), Duration> {
        if self.limit.is_off() {
            return Ok(());
        }
        let rate = f64::from(self.limit.per_minute) / 60.0;
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            if consume {
                bucket.tokens -= 1.0;
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

fn rate_limited(wait: Duration) -> ApiError {
    ApiError::RateLimited {
        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// The limiters of one server.
#[derive(Debug)]
pub struct Limiters {
    pub users: RateLimiter<UserId>,
    /// Keyed by [`address_key`].
    pub addresses: RateLimiter<IpAddr>,
    /// Failed log-ins, by normalised e-mail address (known or not, so the limit does not
    /// tell which addresses have accounts).
    pub login_failures: RateLimiter<String>,
    pub in_flight_per_account: InFlight,
}

/// A network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`, or a plain
/// address for just that one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u128::from(u32::from(net)), self.prefix, 32)
                    == mask(u128::from(u32::from(ip)), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask(u128::from(net), self.prefix, 128) == mask(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit number.
fn mask(bits: u128, prefix: u8, width: u32) -> u128 {
    let prefix = u32::from(prefix).min(width);
    if prefix == 0 {
        0
    } else {
        bits >> (width - prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s
            .trim()
            .split_once('/')
            .map_or((s.trim(), None), |(a, p)| (a, Some(p)));
        let addr =
            canonical(IpAddr::from_str(addr).map_err(|e| format!("{s:?} is not an address: {e}"))?);
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= width)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {width}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What an address is counted as: an IPv4 address itself, an IPv6 one by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// The client's address: the TCP peer's, or, when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` entry that is not a trusted proxy (all trusted: the
/// left-most; an entry that is not an address ends the walk at the hop before it).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let peer = canonical(peer);
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match IpAddr::from_str(hop) {
            Ok(ip) => {
                client = canonical(ip);
                if !is_trusted(client) {
                    return client;
                }
            }
            Err(_) => return client,
        }
    }
    client
}

/// The client address of a request ([`client_ip`]); without a TCP peer (tests driving
/// the router directly) the peer is 0.0.0.0.
pub fn request_client_ip(parts: &Parts, trusted: &[Cidr]) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    client_ip(peer, &parts.headers, trusted)
}

/// Passes when the client's address is within the registration and log-in rate limit,
/// else rejects with `429 rate_limited`; carries the address ([`request_client_ip`]).
#[derive(Debug, Clone, Copy)]
pub struct AddressRateLimited(pub IpAddr);

impl FromRequestParts<AppState> for AddressRateLimited {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = request_client_ip(parts, &state.settings.trusted_proxies);
        state.limits.addresses.check(address_key(ip))?;
        Ok(AddressRateLimited(ip))
    }
}

/// Requests of each account being answered now, at most `max` each (0: no limit).
#[derive(Debug)]
pub struct InFlight {
    max: usize,
    counts: Arc<Mutex<HashMap<UserId, usize>>>,
}

/// One request counted in [`InFlight`] until dropped.
#[derive(Debug)]
pub struct InFlightGuard {
    user: UserId,
    counts: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl InFlight {
    pub fn new(max: usize) -> InFlight {
        InFlight {
            max,
            counts: Arc::default(),
        }
    }

    /// Counts a request of `user`, or `429 rate_limited` (retry in a second) when it has
    /// `max` in flight already.
    pub fn enter(&self, user: UserId) -> Result<Option<InFlightGuard>, ApiError> {
        if self.max == 0 {
            return Ok(None);
        }
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(user).or_insert(0);
        if *count >= self.max {
            return Err(ApiError::RateLimited {
                retry_after_secs: 1,
            });
        }
        *count += 1;
        Ok(Some(InFlightGuard {
            user,
            counts: self.counts.clone(),
        }))
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_minute: 60,
            burst: 2,
        });
        let t0 = Instant::now();
        assert!(limiter.check_at(1, t0).is_ok());
        assert!(limiter.check_at(1, t0).is_ok());
        let wait = limiter.check_at(1, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        assert!(limiter.check_at(2, t0).is_ok(), "keys are independent");
        assert!(limiter
            .check_at(1, t0 + Duration::from_millis(1001))
            .is_ok());
        assert!(limiter
            .check_at(1, t0 + Duration::from_millis(1002))
            .is_err());
    }

    #[test]
    fn peeking_takes_nothing_and_taking_spends() {
        let limiter = RateLimiter::new(RateLimit {
            per_minute: 1,
            burst: 2,
        });
        for _ in 0..5 {
            limiter.peek("a".to_owned()).unwrap();
        }
        limiter.take("a".to_owned());
        limiter.take("a".to_owned());
        assert!(limiter.peek("a".to_owned()).is_err());
        limiter.peek("b".to_owned()).unwrap();
    }

    #[test]
    fn cidr_blocks_contain_their_addresses() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.1".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("fd00::1".parse().unwrap()));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("fd00::/129".parse::<Cidr>().is_err());
        assert!("nonsense/8".parse::<Cidr>().is_err());
    }

    #[test]
    fn ipv6_addresses_count_by_their_slash_64() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:ffff:1:2:3".parse().unwrap());
        let c = address_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            address_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies_right_to_left() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let xff = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", v.parse().unwrap());
            h
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // From an untrusted peer the header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &xff("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Through a trusted proxy: the right-most untrusted hop, not the forgeable left.
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                &xff("6.6.6.6, 198.51.100.4, 10.0.0.7"),
                &trusted
            ),
            ip("198.51.100.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &xff("10.0.0.9, 10.0.0.8"), &trusted),
            ip("10.0.0.9")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &xff("1.1.1.1, garbage, 10.0.0.8"), &trusted),
            ip("10.0.0.8")
        );
        // No trusted proxies: never read.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &xff("1.2.3.4"), &[]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn in_flight_counts_per_account_and_frees_on_drop() {
        let in_flight = InFlight::new(2);
        let a = in_flight.enter(1).unwrap();
        let _b = in_flight.enter(1).unwrap();
        assert!(matches!(
            in_flight.enter(1),
            Err(ApiError::RateLimited {
                retry_after_secs: 1
            })
        ));
        let _other = in_flight.enter(2).unwrap();
        drop(a);
        in_flight.enter(1).unwrap();
        assert!(InFlight::new(0).enter(1).unwrap().is_none());
    }

    #[test]
    fn off_means_off() {
        let limiter = RateLimiter::new(RateLimit::OFF);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(limiter.check_at(1, t0).is_ok());
        }
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let limiter = RateLimiter::new(RateLimit {
            per_minute: 1,
            burst: 1,
        });
        limiter.check(7).unwrap();
        match limiter.check(7) {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((59..=60).contains(&retry_after_secs))
            }
            other => panic!("{other:?}"),
        }
    }
}
