//! Passwords, tokens and the [`AuthUser`] extractor.
//!
//! - Passwords are hashed with Argon2id on the blocking thread pool (hashing takes tens of
//!   milliseconds of CPU on purpose and must not stall the async workers).
//! - A session token is 256 random bits, base64url without padding. The database keeps
//!   only its SHA-256 hash: a leaked database does not leak usable tokens, and a plain
//!   hash is enough because the token is random, not chosen by a person.
//! - Log-in with an unknown e-mail address still verifies a password against a dummy hash
//!   of the same cost, so the answer's timing does not tell whether the address exists.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::db::UserId;
use crate::{ApiError, AppState};

/// Argon2id cost parameters. New hashes use these; a stored hash carries its own, so
/// changing them never locks anyone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordCost {
    /// The `argon2` crate's defaults, which follow OWASP's recommendation for Argon2id
    /// (19 MiB, 2 iterations, 1 lane).
    fn default() -> Self {
        PasswordCost {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

impl PasswordCost {
    /// The cheapest cost Argon2 allows: for tests only, where hashing speed matters more
    /// than resistance to cracking.
    pub const INSECURE_FOR_TESTS: PasswordCost = PasswordCost {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    fn argon2(self) -> Result<Argon2<'static>, ApiError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| ApiError::Internal(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Argon2 hashes being computed for requests, counted where they run (on the blocking
/// pool): how many now, the most at once, and how many so far. What
/// `--max-concurrent-hashes` bounds; tests read it through [`crate::AppState::hashing`].
#[derive(Debug, Default)]
pub struct HashGauge {
    now: AtomicUsize,
    peak: AtomicUsize,
    total: AtomicU64,
}

impl HashGauge {
    /// The most hashes that were computed at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Hashes computed (or being computed) so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    /// Counts one hash from now until the returned guard is dropped.
    fn enter(self: Arc<Self>) -> HashCounted {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::SeqCst);
        HashCounted(self)
    }
}

/// One hash being computed, counted in its [`HashGauge`].
struct HashCounted(Arc<HashGauge>);

impl Drop for HashCounted {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Hashes `password` (PHC string format, with a random salt), off the async workers,
/// counted in `gauge`.
pub async fn hash_password(
    cost: PasswordCost,
    gauge: Arc<HashGauge>,
    password: String,
) -> Result<String, ApiError> {
    blocking(move || {
        let _counted = gauge.enter();
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(format!("salt: {e}")))?;
        cost.argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
    })
    .await
}

/// Whether `password` matches `hash`, off the async workers, counted in `gauge`. `None`
/// as the hash verifies against a dummy hash of the same cost and answers false, taking
/// the same time.
pub async fn verify_password(
    cost: PasswordCost,
    gauge: Arc<HashGauge>,
    dummy: Arc<OnceLock<String>>,
    hash: Option<String>,
    password: String,
) -> Result<bool, ApiError> {
    blocking(move || {
        let _counted = gauge.enter();
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => dummy_hash(cost, &dummy)?,
        };
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| ApiError::Internal(format!("stored password hash: {e}")))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await
}

/// Makes the dummy hash now, so that the first log-in with an unknown address does not
/// take longer than the others.
pub async fn prepare_dummy_hash(
    cost: PasswordCost,
    dummy: Arc<OnceLock<String>>,
) -> Result<(), ApiError> {
    blocking(move || dummy_hash(cost, &dummy).map(drop)).await
}

fn dummy_hash(cost: PasswordCost, dummy: &OnceLock<String>) -> Result<String, ApiError> {
    if let Some(hash) = dummy.get() {
        return Ok(hash.clone());
    }
    let salt = SaltString::encode_b64(b"cairn-dummy-salt")
        .map_err(|e| ApiError::Internal(format!("salt: {e}")))?;
    let hash = cost
        .argon2()?
        .hash_password(b"not anyone's password", &salt)
        .map_err(|e| ApiError::Internal(format!("argon2: {e}")))?
        .to_string();
    Ok(dummy.get_or_init(|| hash).clone())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task: {e}")))?
}

/// A new session token and the hash the database keeps.
pub fn new_token() -> Result<(String, [u8; 32]), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// What the database stores for a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The signed-in user of a request: a valid, unexpired `Authorization: Bearer` token.
/// Marks the session used now if its `last_used_at` is older than
/// [`crate::Settings::session_touch_interval`] (a minute). Rejects with `401 unauthorized`, and with `429 rate_limited` when the user is over
/// the per-user rate limit or has the most requests in flight it may. Records the user id in the request's log span.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: UserId,
    pub token_hash: [u8; 32],
    /// Counts this request among the account's in flight until the handler is done.
    _in_flight: Option<Arc<crate::rate_limit::InFlightGuard>>,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let token_hash = token_hash(token);
        let now = i64::try_from(crate::now_ms()).unwrap_or(i64::MAX);
        let touch =
            i64::try_from(state.settings.session_touch_interval.as_millis()).unwrap_or(i64::MAX);
        let id = state
            .db
            .session_user(&token_hash, now, now.saturating_sub(touch))
            .await
            .map_err(ApiError::Database)?
            .ok_or(ApiError::Unauthorized)?;
        tracing::Span::current().record("user_id", id);
        state.limits.users.check(id)?;
        let in_flight = state.limits.in_flight_per_account.enter(id)?;
        Ok(AuthUser {
            id,
            token_hash,
            _in_flight: in_flight.map(Arc::new),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_of_base64url_and_hash_to_sha256() {
        let (token, hash) = new_token().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert_eq!(hash, token_hash(&token));
        assert_ne!(new_token().unwrap().0, token);
    }

    #[tokio::test]
    async fn passwords_verify_and_unknown_users_never_do() {
        let dummy = Arc::new(OnceLock::new());
        let cost = PasswordCost::INSECURE_FOR_TESTS;
        let gauge = Arc::new(HashGauge::default());
        let hash = hash_password(cost, gauge.clone(), "correct horse".into())
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let verify = |h: Option<&str>, p: &str| {
            let (gauge, dummy) = (gauge.clone(), dummy.clone());
            verify_password(cost, gauge, dummy, h.map(str::to_owned), p.to_owned())
        };
        assert!(verify(Some(&hash), "correct horse").await.unwrap());
        assert!(!verify(Some(&hash), "wrong horse").await.unwrap());
        assert!(!verify(None, "not anyone's password").await.unwrap());
        assert!(dummy.get().is_some());
        assert_eq!((gauge.total(), gauge.peak()), (4, 1));
    }
}
