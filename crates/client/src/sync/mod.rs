//! The sync engine: accounts, and the sync round that pushes the outbox and pulls what
//! other devices changed (protocol: `docs/sync-protocol.md`).
//!
//! One round ([`SyncEngine::sync_once`]):
//! 0. before every push, upload the blobs marked here (`blobs`); a change naming a blob
//!    still marked is held back (it stays queued);
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
//! several tabs) never sync at once. [`SyncEngine::sync_with_retries`] retries failures
//! that may pass (network, 5xx, 429) with exponential backoff and jitter, and waits for
//! `online` when offline. A 401 drops the session: the app shows the signed-out state,
//! and the outbox is kept for the next sign-in.
//!
//! After every round the result is stored (`meta`) and announced on the BroadcastChannel
//! `cairn-sync:<db>`, so every open page shows current status whoever ran the round.
//!
//! # Layout
//! Each file adds the methods of one concern to [`SyncEngine`]:
//! - `meta`: what sync keeps in the store's `meta` (the session, the pull position, the
//!   last round's outcome) and the conflict log's rows ([`StoredConflict`]);
//! - `account`: sign up, in and out, the choice when the account changes
//!   ([`AccountSwitch`]), the account's sessions on the server;
//! - `exclusions`: collections this device keeps off sync;
//! - `status`: what the app shows ([`SyncStatus`]), and storing each round's outcome;
//! - `round`: one round under the lock ([`SyncEngine::sync_once`], [`SyncReport`]), made
//!   of `push` (the outbox in batches, and the body of a push) and `pull` (pages from the
//!   stored position, [`PullProgress`]);
//! - `backoff`: [`SyncEngine::sync_with_retries`] and its [`Backoff`];
//! - `blobs`: the upload phase, [`SyncEngine::fetch_blob`], [`SyncEngine::blob_usage`];
//! - `http`: one API call, its errors mapped to [`SyncError`];
//! - `notices`: announcing a round or a session change to every context
//!   ([`SyncNotices`]);
//! - [`live`]: the account's change stream ([`SyncEngine::listen`]).
//!
//! [`MAX_CHANGES_PER_PUSH`]: cairn_protocol::limits::MAX_CHANGES_PER_PUSH
//! [`MAX_PUSH_BYTES`]: cairn_protocol::limits::MAX_PUSH_BYTES

use crate::{Store, StoreError};

mod account;
mod backoff;
mod blobs;
mod exclusions;
mod http;
pub mod live;
mod meta;
mod notices;
mod pull;
mod push;
mod round;
mod status;

pub use account::AccountSwitch;
pub use backoff::Backoff;
pub use meta::{LastSync, PullPosition, StoredConflict, StoredSession};
pub use notices::SyncNotices;
pub use pull::PullProgress;
pub use round::SyncReport;
pub use status::SyncStatus;

/// The Web Lock every sync round holds.
pub const SYNC_LOCK: &str = "cairn-sync";

/// The sync engine of one store against one server.
pub struct SyncEngine<'a> {
    store: &'a Store,
    /// The server's origin (`""` for the page's own origin) without a trailing slash.
    base_url: String,
    /// Told how far a pull is ([`SyncEngine::with_progress`]).
    on_progress: Option<Box<dyn Fn(PullProgress) + 'a>>,
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

    /// The store this engine syncs.
    pub fn store(&self) -> &Store {
        self.store
    }
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
