//! The sync engine: accounts, and the sync round that pushes the outbox and pulls what
//! other devices changed (protocol: `docs/sync-protocol.md`).
//!
//! One round ([`SyncEngine::sync_once`]):
//! 1. push the outbox in batches (below both [`MAX_CHANGES_PER_PUSH`] and
//!    [`MAX_PUSH_BYTES`]); after each reply drop the acknowledged entries and reconcile
//!    the winners the server named;
//! 2. pull from the stored position until `more` is false, applying each page by the
//!    merge rule in one transaction together with the new position.
//!
//! A change the server refuses (or that breaks a limit before it is sent) is set aside
//! with the reason ([`crate::set_aside`]) and the rest of the round goes on; the pull runs
//! whatever the push did, unless the server could not be reached at all. Every reply
//! carries the server's clock, which corrects this device's for stamping changes, and
//! the database's epoch: a cursor is only followed within the epoch it was taken in, and
//! a server that lost versions (a new epoch, or an account head behind the cursor) gets
//! everything this device holds pushed again and is pulled from the start.
//!
//! A round runs under the Web Lock [`SYNC_LOCK`], so the page and the service worker (and
//! several tabs) never sync at once. [`SyncEngine::sync_with_retries`] retries failures that may
//! pass (network, 5xx, 429) with exponential backoff and jitter, and waits for `online`
//! when offline. A 401 drops the session: the app shows the signed-out state, and the
//! outbox is kept for the next sign-in.
//!
//! After every round the result is stored (`meta`) and announced on the BroadcastChannel
//! `cairn-sync:<db>`, so every open page shows current status whoever ran the round.

use cairn_protocol::api::{
    Credentials, EndedSessions, ErrorBody, Session, SessionInfo, PUSH_PROTOCOL,
};
use cairn_protocol::limits::{self, MAX_CHANGES_PER_PUSH, MAX_PULL_LIMIT, MAX_PUSH_BYTES};
use cairn_protocol::{Conflict, Hlc, RecordKey};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageEvent};

use crate::codec::{from_js, now_ms, random_u64, to_js};
use crate::global;
use crate::js_record::{stringify, JsRecord, PullPage, PushReply};
use crate::schema::{META_LAST_SYNC, META_PULL_POSITION, META_SESSION, META_SYNC_EXCLUDED};
use crate::{Store, StoreError};

pub mod live;

/// The Web Lock every sync round holds.
pub const SYNC_LOCK: &str = "cairn-sync";

/// The signed-in account on this device (kept in `meta`, never synced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    pub email: String,
    pub token: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: u64,
}

/// Where pulling resumes, and for which account and server database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullPosition {
    pub email: String,
    pub cursor: u64,
    /// The server database's epoch the cursor belongs to (empty: not known yet).
    #[serde(default)]
    pub epoch: String,
}

/// What to do with this device's data when signing in to an account other than the one
/// it belongs to (the account it last synced with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSwitch {
    /// Push everything this device holds into the new account too.
    KeepData,
    /// Start the new account empty here: a local snapshot keeps the old account's data
    /// (restorable from the Storage page), then it is cleared from this device.
    StartEmpty,
}

/// How the last sync round went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSync {
    /// When the last round that succeeded finished.
    pub succeeded_at_ms: Option<u64>,
    /// The error of the last round, if it failed.
    pub error: Option<String>,
    /// When the last round (of either outcome) finished.
    pub finished_at_ms: u64,
}

/// A logged conflict as stored: keyed by the record and the lost version's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredConflict {
    pub collection: String,
    pub id: String,
    pub lost_hlc: Hlc,
    pub conflict: Conflict,
}

/// How many times one round pushes again what it merged.
const MERGE_PASSES: usize = 3;

/// Everything the app shows about sync.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncStatus {
    /// The signed-in account, if any.
    pub account: Option<String>,
    /// Local changes not pushed yet (in collections that sync).
    pub pending: usize,
    /// Local changes the server refused, set aside ([`crate::set_aside`]).
    pub set_aside: usize,
    pub last_success_ms: Option<u64>,
    pub last_error: Option<String>,
    pub online: bool,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    pub pushed: usize,
    pub pulled: usize,
    /// Versions that lost and went to the conflict log (overwritten).
    pub conflicts: usize,
    /// New local changes made by combining a pending change with a version made
    /// elsewhere without knowing it ([`cairn_protocol::three_way`]); the round pushes them.
    pub merged: usize,
    /// Records that changed here (to show; [`JsRecord::decode`] reads their values).
    pub changed: Vec<JsRecord>,
    /// Local changes set aside this round (refused by the server, or breaking a protocol
    /// limit), with why; see [`crate::set_aside`].
    pub refused: Vec<(RecordKey, String)>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    #[error("not signed in")]
    SignedOut,
    #[error("the session expired or was revoked; sign in again")]
    Unauthorized,
    #[error("this device is offline")]
    Offline,
    /// Signing in to another account than the one this device's data belongs to: the
    /// user decides with [`SyncEngine::sign_in_with`] / [`SyncEngine::sign_up_with`].
    #[error("the data on this device belongs to {account}: keep it in the new account, or start the new account empty?")]
    DataOfAnotherAccount { account: String },
    #[error("could not reach the sync server: {0}")]
    Network(String),
    #[error("the sync server is busy; retrying in {retry_after_s} s")]
    RateLimited { retry_after_s: u32 },
    #[error("the sync server failed ({status}): {message}")]
    Server { status: u16, message: String },
    /// The server refused the request (4xx other than 401/429): retrying will not help.
    #[error("{message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected reply from the sync server: {0}")]
    BadReply(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Offline
                | SyncError::Network(_)
                | SyncError::RateLimited { .. }
                | SyncError::Server { .. }
        )
    }
}

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

/// The sync engine of one store against one server.
pub struct SyncEngine<'a> {
    store: &'a Store,
    /// The server's origin (`""` for the page's own origin) without a trailing slash.
    base_url: String,
    /// Told how far a pull is ([`SyncEngine::with_progress`]).
    on_progress: Option<Box<dyn Fn(PullProgress) + 'a>>,
}

/// How far the pull of a round is: versions pulled so far, of how many the server had
/// for this device when it answered the last page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullProgress {
    pub pulled: u64,
    pub total: u64,
}

impl<'a> SyncEngine<'a> {
    pub fn new(store: &'a Store, base_url: impl Into<String>) -> Self {
        SyncEngine {
            store,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            on_progress: None,
        }
    }

    /// This engine, calling `on_progress` after each pulled page (a first sync of a large
    /// account shows "12,000 of 40,000").
    pub fn with_progress(mut self, on_progress: impl Fn(PullProgress) + 'a) -> Self {
        self.on_progress = Some(Box::new(on_progress));
        self
    }

    /// The signed-in account, if any (an expired session counts as signed out).
    pub async fn session(&self) -> Result<Option<StoredSession>, StoreError> {
        let session: Option<StoredSession> = self.store.meta(META_SESSION).await?;
        Ok(session.filter(|s| s.expires_at > now_ms()))
    }

    /// Registers an account and signs in to it. Fails with
    /// [`SyncError::DataOfAnotherAccount`] (creating nothing) when this device's data
    /// belongs to another account: then ask, and call [`SyncEngine::sign_up_with`].
    pub async fn sign_up(&self, email: &str, password: &str) -> Result<StoredSession, SyncError> {
        self.start_session("/api/v1/accounts", email, password, None)
            .await
    }

    /// Signs in to an existing account. Fails with [`SyncError::DataOfAnotherAccount`]
    /// when this device's data belongs to another account: then ask, and call
    /// [`SyncEngine::sign_in_with`].
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<StoredSession, SyncError> {
        self.start_session("/api/v1/sessions", email, password, None)
            .await
    }

    /// [`SyncEngine::sign_in`], with the user's answer for this device's data.
    pub async fn sign_in_with(
        &self,
        email: &str,
        password: &str,
        choice: AccountSwitch,
    ) -> Result<StoredSession, SyncError> {
        self.start_session("/api/v1/sessions", email, password, Some(choice))
            .await
    }

    /// [`SyncEngine::sign_up`], with the user's answer for this device's data.
    pub async fn sign_up_with(
        &self,
        email: &str,
        password: &str,
        choice: AccountSwitch,
    ) -> Result<StoredSession, SyncError> {
        self.start_session("/api/v1/accounts", email, password, Some(choice))
            .await
    }

    /// The account this device's data belongs to (the one it last synced with), if any.
    pub async fn data_account(&self) -> Result<Option<String>, StoreError> {
        let position: Option<PullPosition> = self.store.meta(META_PULL_POSITION).await?;
        Ok(position.map(|p| p.email))
    }

    async fn start_session(
        &self,
        path: &str,
        email: &str,
        password: &str,
        choice: Option<AccountSwitch>,
    ) -> Result<StoredSession, SyncError> {
        let credentials = Credentials {
            email: limits::normalize_email(email),
            password: password.to_owned(),
        };
        let owner = self.data_account().await?;
        let switching = owner.as_ref().is_some_and(|o| *o != credentials.email);
        if let (true, None, Some(account)) = (switching, choice, owner) {
            // Asked before anything happens on the server: nothing to undo.
            return Err(SyncError::DataOfAnotherAccount { account });
        }
        let body = json_body(&credentials)?;
        let session: Session = match self.call("POST", path, None, Some(body)).await {
            // A 401 here is a wrong e-mail or password, not an expired session.
            Err(SyncError::Unauthorized) => {
                return Err(SyncError::Refused {
                    status: 401,
                    code: "invalid_credentials".into(),
                    message: "wrong e-mail address or password".into(),
                })
            }
            other => other?,
        };
        let stored = StoredSession {
            email: credentials.email,
            token: session.token,
            expires_at: session.expires_at,
        };
        // Another account than the one this device synced with: as the user chose. Either
        // way pulling starts from the beginning of the new account.
        if switching {
            match choice {
                Some(AccountSwitch::StartEmpty) => {
                    self.store.set_data_aside().await?;
                }
                _ => {
                    self.store.queue_everything().await?;
                }
            }
            self.store
                .set_meta::<PullPosition>(META_PULL_POSITION, None)
                .await?;
        }
        self.store.set_meta(META_SESSION, Some(&stored)).await?;
        announce(self.store, None);
        Ok(stored)
    }

    /// Signs out: ends the session on the server (best effort) and forgets it here.
    /// Local data and the outbox stay.
    pub async fn sign_out(&self) -> Result<(), StoreError> {
        if let Some(session) = self.session().await? {
            let _ = self
                .call::<serde::de::IgnoredAny>(
                    "DELETE",
                    "/api/v1/sessions/current",
                    Some(&session.token),
                    None,
                )
                .await;
        }
        self.store
            .set_meta::<StoredSession>(META_SESSION, None)
            .await?;
        announce(self.store, None);
        Ok(())
    }

    /// The signed-in account's sessions (this device's marked `current`), most recently
    /// used first.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, SyncError> {
        let session = self.session().await?.ok_or(SyncError::SignedOut)?;
        self.call("GET", "/api/v1/sessions", Some(&session.token), None)
            .await
    }

    /// Ends every session of the signed-in account but this device's (a lost phone, a
    /// borrowed computer); returns how many ended.
    pub async fn end_other_sessions(&self) -> Result<u64, SyncError> {
        let session = self.session().await?.ok_or(SyncError::SignedOut)?;
        let ended: EndedSessions = self
            .call(
                "DELETE",
                "/api/v1/sessions/others",
                Some(&session.token),
                None,
            )
            .await?;
        Ok(ended.ended)
    }

    /// The collections this device keeps to itself: their changes are neither pushed nor
    /// taken from the server (a device setting, kept in `meta`, not synced).
    pub async fn excluded_collections(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .store
            .meta::<Vec<String>>(META_SYNC_EXCLUDED)
            .await?
            .unwrap_or_default())
    }

    /// Sets the collections kept off sync. Changes to them stay queued, so they are
    /// pushed if the collection is included again; including one again also pulls
    /// everything from the start once, to catch up on what was skipped.
    pub async fn set_excluded_collections(&self, excluded: &[String]) -> Result<(), StoreError> {
        let before = self.excluded_collections().await?;
        let mut excluded = excluded.to_vec();
        excluded.sort();
        excluded.dedup();
        if before.iter().any(|c| !excluded.contains(c)) {
            self.store
                .set_meta::<PullPosition>(META_PULL_POSITION, None)
                .await?;
        }
        self.store
            .set_meta(META_SYNC_EXCLUDED, Some(&excluded))
            .await?;
        announce(self.store, None);
        Ok(())
    }

    /// What the app shows about sync.
    pub async fn status(&self) -> Result<SyncStatus, StoreError> {
        let last: Option<LastSync> = self.store.meta(META_LAST_SYNC).await?;
        let excluded = self.excluded_collections().await?;
        let pending = if excluded.is_empty() {
            self.store.pending_count().await?
        } else {
            let outbox = self.store.outbox().await?;
            outbox
                .iter()
                .filter(|e| !excluded.contains(&e.collection))
                .count()
        };
        Ok(SyncStatus {
            account: self.session().await?.map(|s| s.email),
            pending,
            set_aside: self.store.set_aside().await?.len(),
            last_success_ms: last.as_ref().and_then(|l| l.succeeded_at_ms),
            last_error: last.and_then(|l| l.error),
            online: global::is_online(),
        })
    }

    /// One round under the sync lock; records and announces its outcome.
    pub async fn sync_once(&self) -> Result<SyncReport, SyncError> {
        global::with_lock(SYNC_LOCK, async {
            let result = self.round().await;
            // Not being signed in is a state, not a failed round.
            if result != Err(SyncError::SignedOut) {
                self.record(&result).await;
            }
            result
        })
        .await
    }

    /// [`SyncEngine::sync_once`], retried up to `attempts` times while the failure may pass:
    /// waiting for `online` when offline, honouring `Retry-After`, else backing off
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

    async fn round(&self) -> Result<SyncReport, SyncError> {
        if !global::is_online() {
            return Err(SyncError::Offline);
        }
        let session = self.session().await?.ok_or(SyncError::SignedOut)?;
        let mut report = SyncReport::default();
        let outcome = async {
            let pushed = self.push_all(&session, &mut report).await;
            if let Err(e) = &pushed {
                if !runs_pull_after(e) {
                    return pushed;
                }
            }
            // The pull runs whatever the push did: one refused change must not keep this
            // device from hearing the others.
            let restarted = self.pull_all(&session, &mut report).await?;
            if restarted {
                // The server lost versions: what this device holds is queued again now.
                self.push_all(&session, &mut report).await?;
                self.pull_all(&session, &mut report).await?;
            }
            // What this round merged goes out in it too. Each pass can meet a newer
            // concurrent version (merged again); past a few, the next round goes on.
            let mut sent = 0;
            for _ in 0..MERGE_PASSES {
                if report.merged == sent {
                    break;
                }
                sent = report.merged;
                self.push_all(&session, &mut report).await?;
                self.pull_all(&session, &mut report).await?;
            }
            pushed
        }
        .await;
        if outcome == Err(SyncError::Unauthorized) {
            self.store
                .set_meta::<StoredSession>(META_SESSION, None)
                .await?;
        }
        outcome.map(|()| report)
    }

    async fn push_all(
        &self,
        session: &StoredSession,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let excluded = self.excluded_collections().await?;
        let entries: Vec<_> = self
            .store
            .outbox()
            .await?
            .into_iter()
            .filter(|e| !excluded.contains(&e.collection))
            .collect();
        let now = self.store.now();
        let device_id = json_body(&self.store.device_id())?;
        for chunk in entries.chunks(MAX_CHANGES_PER_PUSH) {
            let mut batch = Vec::with_capacity(chunk.len());
            let mut bytes = 0;
            let mut refused = Vec::new();
            for (record, base) in self.store.records_for(chunk).await? {
                let json = match record.to_push_json(base.as_ref(), now) {
                    Ok(json) => json,
                    Err(reason) => {
                        refused.push((record, reason));
                        continue;
                    }
                };
                // Keep under the body limit: the records' JSON plus the envelope.
                if bytes + json.len() + 1 > MAX_PUSH_BYTES - 1024 && !batch.is_empty() {
                    self.push_batch(session, &device_id, std::mem::take(&mut batch), report)
                        .await?;
                    bytes = 0;
                }
                bytes += json.len() + 1;
                batch.push((record, json));
            }
            if !batch.is_empty() {
                self.push_batch(session, &device_id, batch, report).await?;
            }
            self.set_aside(refused, report).await?;
        }
        Ok(())
    }

    /// Sets `refused` changes aside with their reasons, and reports them.
    async fn set_aside(
        &self,
        refused: Vec<(JsRecord, String)>,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        if refused.is_empty() {
            return Ok(());
        }
        self.store.set_aside_refused(&refused).await?;
        report.refused.extend(
            refused
                .into_iter()
                .map(|(record, reason)| (record.key(), reason)),
        );
        Ok(())
    }

    /// Pushes `changes` (each with its JSON) as one request from the device `device_id`
    /// (as JSON), then acknowledges them.
    async fn push_batch(
        &self,
        session: &StoredSession,
        device_id: &str,
        changes: Vec<(JsRecord, String)>,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let (changes, jsons): (Vec<JsRecord>, Vec<String>) = changes.into_iter().unzip();
        // The shape of `cairn_protocol::api::PushRequest`.
        let body = format!(
            r#"{{"protocol":{PUSH_PROTOCOL},"device_id":{device_id},"partial":true,"changes":[{}]}}"#,
            jsons.join(",")
        );
        let reply: PushReply = self
            .call(
                "POST",
                "/api/v1/sync/push",
                Some(&session.token),
                Some(body),
            )
            .await?;
        self.store.observe_server_time(reply.server_time_ms).await?;
        // Nothing else was stored between our cursor and this push (in the same server
        // database): skip our own echo.
        let position: Option<PullPosition> = self.store.meta(META_PULL_POSITION).await?;
        let current = match position {
            Some(p) => (p.email == session.email && p.epoch == reply.epoch).then_some(p),
            // Never pulled: from the start, so a push into an empty account (this device
            // the first to sync) does not pull its own changes back.
            None => Some(PullPosition {
                email: session.email.clone(),
                cursor: 0,
                epoch: reply.epoch.clone(),
            }),
        };
        let cursor = match current {
            Some(p) if p.cursor == reply.seq_before && reply.seq_after > p.cursor => {
                let moved = PullPosition {
                    cursor: reply.seq_after,
                    ..p
                };
                Some((META_PULL_POSITION, to_js(&moved)?))
            }
            _ => None,
        };
        // Refused changes stay in the outbox here; they are set aside just after.
        let refused_keys: std::collections::BTreeSet<RecordKey> = reply
            .refused
            .iter()
            .map(|r| RecordKey::new(r.collection.clone(), r.id.clone()))
            .collect();
        let (refused, taken): (Vec<JsRecord>, Vec<JsRecord>) = changes
            .into_iter()
            .partition(|c| refused_keys.contains(&c.key()));
        let applied = self
            .store
            .acknowledge_push_at(&taken, &reply.superseded, cursor)
            .await?;
        report.pushed += taken.len() - reply.superseded.len().min(taken.len());
        report.conflicts += applied.conflicts;
        report.merged += applied.rebased;
        report.changed.extend(applied.changed);
        let refused = refused
            .into_iter()
            .filter_map(|change| {
                let why = reply.refused.iter().find(|r| {
                    r.collection == change.collection && r.id == change.id && r.hlc == change.hlc
                })?;
                let reason = format!("refused by the server: {}", why.message);
                Some((change, reason))
            })
            .collect();
        self.set_aside(refused, report).await
    }

    /// Pulls until nothing more remains. Returns true when it found that the server lost
    /// versions this device had pulled (a new database epoch, or the account's head
    /// behind the cursor): then it queued everything this device holds and pulled from
    /// the start, and the caller pushes again.
    async fn pull_all(
        &self,
        session: &StoredSession,
        report: &mut SyncReport,
    ) -> Result<bool, SyncError> {
        let position: Option<PullPosition> = self.store.meta(META_PULL_POSITION).await?;
        let position = position.filter(|p| p.email == session.email);
        let mut epoch = position
            .as_ref()
            .map(|p| p.epoch.clone())
            .unwrap_or_default();
        let mut cursor = position.map_or(0, |p| p.cursor);
        let excluded = self.excluded_collections().await?;
        let mut restarted = false;
        let mut pulled = 0u64;
        loop {
            let path = format!("/api/v1/sync/pull?since={cursor}&limit={MAX_PULL_LIMIT}");
            let mut page: PullPage = self.call("GET", &path, Some(&session.token), None).await?;
            self.store.observe_server_time(page.server_time_ms).await?;
            // A server that predates epochs sends none; one whose epoch is new to this
            // device's cursor (or a cursor it never reached) lost what the cursor counts.
            let new_epoch = !page.epoch.is_empty() && !epoch.is_empty() && page.epoch != epoch;
            let lost = !page.epoch.is_empty() && cursor > page.head;
            if (new_epoch || lost) && !restarted {
                self.store.queue_everything().await?;
                (cursor, epoch, restarted) = (0, page.epoch.clone(), true);
                continue;
            }
            if epoch.is_empty() {
                epoch = page.epoch.clone();
            }
            pulled += page.records.len() as u64;
            if let Some(on_progress) = &self.on_progress {
                on_progress(PullProgress {
                    pulled,
                    total: pulled + page.remaining,
                });
            }
            // Not applied here; including the collection again pulls from the start.
            page.records.retain(|r| !excluded.contains(&r.collection));
            let position = PullPosition {
                email: session.email.clone(),
                cursor: page.cursor,
                epoch: epoch.clone(),
            };
            let applied = self
                .store
                .apply_pulled(&page.records, (META_PULL_POSITION, &position))
                .await?;
            report.pulled += page.records.len();
            report.conflicts += applied.conflicts;
            report.merged += applied.rebased;
            report.changed.extend(applied.changed);
            if !page.more || page.cursor == cursor {
                return Ok(restarted);
            }
            cursor = page.cursor;
        }
    }

    /// Stores the outcome of a round and tells every open page.
    async fn record(&self, result: &Result<SyncReport, SyncError>) {
        let previous: Option<LastSync> = self.store.meta(META_LAST_SYNC).await.ok().flatten();
        let now = now_ms();
        let last = LastSync {
            succeeded_at_ms: match result {
                Ok(_) => Some(now),
                Err(_) => previous.and_then(|p| p.succeeded_at_ms),
            },
            error: match result {
                Err(err) => Some(err.to_string()),
                // Set-aside changes are listed on their own (`SyncStatus::set_aside`).
                Ok(_) => None,
            },
            finished_at_ms: now,
        };
        let _ = self.store.set_meta(META_LAST_SYNC, Some(&last)).await;
        announce(self.store, Some(&last));
    }

    /// One API call: JSON in, JSON out (parsed by the browser), errors mapped to
    /// [`SyncError`].
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Result<T, SyncError> {
        let text = self.exchange(method, path, token, body).await?;
        let value = if text.is_empty() {
            JsValue::NULL
        } else {
            js_sys::JSON::parse(&text).map_err(|e| SyncError::BadReply(describe(&e)))?
        };
        from_js(value).map_err(SyncError::BadReply)
    }

    /// The HTTP exchange under [`SyncEngine::call`]: the body of a 2xx reply, or the error.
    /// Boxed and not generic, so the service worker's wasm holds one copy of it, not one
    /// inlined into every caller.
    fn exchange<'s>(
        &'s self,
        method: &'s str,
        path: &'s str,
        token: Option<&'s str>,
        body: Option<String>,
    ) -> LocalBoxFuture<'s, Result<String, SyncError>> {
        Box::pin(async move {
            let init = web_sys::RequestInit::new();
            init.set_method(method);
            init.set_cache(web_sys::RequestCache::NoStore);
            let headers = web_sys::Headers::new().map_err(js_error)?;
            headers
                .set("Accept", "application/json")
                .map_err(js_error)?;
            if let Some(token) = token {
                headers
                    .set("Authorization", &format!("Bearer {token}"))
                    .map_err(js_error)?;
            }
            if let Some(body) = &body {
                headers
                    .set("Content-Type", "application/json")
                    .map_err(js_error)?;
                init.set_body(&JsValue::from_str(body));
            }
            init.set_headers(&headers);
            let url = format!("{}{}", self.base_url, path);
            let request = web_sys::Request::new_with_str_and_init(&url, &init).map_err(js_error)?;
            let response = global::fetch(&request).await.map_err(|e| {
                if global::is_online() {
                    SyncError::Network(describe(&e))
                } else {
                    SyncError::Offline
                }
            })?;
            let status = response.status();
            if !(200..300).contains(&status) {
                return Err(self.error_of(response).await);
            }
            match response.text() {
                Ok(promise) => Ok(JsFuture::from(promise)
                    .await
                    .map_err(|e| SyncError::Network(describe(&e)))?
                    .as_string()
                    .unwrap_or_default()),
                Err(e) => Err(SyncError::Network(describe(&e))),
            }
        })
    }

    /// The error a non-2xx `response` stands for, with the server's message.
    pub(crate) async fn error_of(&self, response: web_sys::Response) -> SyncError {
        let status = response.status();
        let text = match response.text() {
            Ok(promise) => match JsFuture::from(promise).await {
                Ok(text) => text.as_string().unwrap_or_default(),
                Err(e) => return SyncError::Network(describe(&e)),
            },
            Err(e) => return SyncError::Network(describe(&e)),
        };
        let error: Option<ErrorBody> = js_sys::JSON::parse(&text)
            .ok()
            .and_then(|value| from_js(value).ok());
        let message = error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_else(|| format!("HTTP {status}"));
        match status {
            401 => SyncError::Unauthorized,
            429 => SyncError::RateLimited {
                retry_after_s: response
                    .headers()
                    .get("Retry-After")
                    .ok()
                    .flatten()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(5),
            },
            500.. => SyncError::Server { status, message },
            _ => SyncError::Refused {
                status,
                code: error.map(|e| e.error).unwrap_or_default(),
                message,
            },
        }
    }

    /// The store this engine syncs.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// The server's origin, without a trailing slash.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }
}

/// Whether a round goes on to pull after its push failed with `error`: yes, unless the
/// server cannot be reached or will not take this session.
fn runs_pull_after(error: &SyncError) -> bool {
    !matches!(
        error,
        SyncError::Offline
            | SyncError::Network(_)
            | SyncError::Unauthorized
            | SyncError::RateLimited { .. }
            | SyncError::SignedOut
    )
}

/// `value` as the JSON of a request body.
fn json_body<T: Serialize>(value: &T) -> Result<String, SyncError> {
    stringify(&to_js(value)?)
        .ok_or_else(|| SyncError::Store(StoreError::Encode("cannot encode as JSON".into())))
}

fn js_error(e: JsValue) -> SyncError {
    SyncError::Network(describe(&e))
}

pub(crate) fn describe(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// The channel sync outcomes and session changes are announced on.
fn channel_name(store: &Store) -> String {
    format!("cairn-sync:{}", store.name())
}

/// Tells every context of the origin that sync status changed (a round finished, or the
/// session changed).
fn announce(store: &Store, last: Option<&LastSync>) {
    if let Ok(channel) = BroadcastChannel::new(&channel_name(store)) {
        let message = last.and_then(|l| to_js(l).ok()).unwrap_or(JsValue::NULL);
        let _ = channel.post_message(&message);
        channel.close();
    }
}

/// Calls `on_change` whenever another context finishes a sync round or changes the
/// session, until dropped.
pub struct SyncNotices {
    channel: BroadcastChannel,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

impl SyncNotices {
    pub fn subscribe(store: &Store, mut on_change: impl FnMut() + 'static) -> Option<SyncNotices> {
        let channel = BroadcastChannel::new(&channel_name(store)).ok()?;
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |_: MessageEvent| on_change());
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        Some(SyncNotices {
            channel,
            _listener: listener,
        })
    }
}

impl Drop for SyncNotices {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
