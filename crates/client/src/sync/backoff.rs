//! Retrying rounds whose failure may pass ([`SyncEngine::sync_with_retries`]), with
//! exponential backoff and jitter ([`Backoff`]).

use super::{SyncEngine, SyncError, SyncReport};
use crate::codec::random_u64;
use crate::global;

/// Exponential backoff with jitter: attempt n waits a random time between half and all of
/// `base * 2^n`, capped at `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base_ms: u32,
    pub max_ms: u32,
    attempt: u32,
}

impl Backoff {
    pub fn new(base_ms: u32, max_ms: u32) -> Self {
        Self {
            base_ms,
            max_ms,
            attempt: 0,
        }
    }

    /// The next delay, given `jitter`, a random number in `0.0..=1.0`.
    pub fn next_delay_ms(&mut self, jitter: f64) -> u32 {
        let ceiling = (self.base_ms as u64)
            .saturating_mul(1u64 << self.attempt.min(30))
            .min(self.max_ms as u64);
        self.attempt += 1;
        let half = ceiling / 2;
        half as u32 + ((ceiling - half) as f64 * jitter.clamp(0.0, 1.0)).round() as u32
    }
}

impl SyncEngine<'_> {
    /// [`SyncEngine::sync_once`], retried up to `attempts` times while the failure may
    /// pass: waiting for `online` when offline, honouring `Retry-After`, else backing off
    /// exponentially with jitter.
    pub async fn sync_with_retries(&self, attempts: u32) -> Result<SyncReport, SyncError> {
        let mut backoff = Backoff::new(1_000, 60_000);
        let mut attempt = 1;
        loop {
            global::wait_until_online().await;
            match self.sync_once().await {
                Err(err) if err.is_transient() && attempt < attempts => {
                    let delay = match &err {
                        SyncError::RateLimited { retry_after_s } => {
                            retry_after_s.saturating_mul(1000)
                        }
                        _ => {
                            let random = random_u64().unwrap_or(0) >> 11;
                            backoff.next_delay_ms(random as f64 / (1u64 << 53) as f64)
                        }
                    };
                    global::sleep_ms(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
