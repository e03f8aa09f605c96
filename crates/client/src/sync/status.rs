//! What the app shows about sync ([`SyncStatus`]), and the outcome of each round stored
//! for it.

use super::notices::announce;
use super::{LastSync, SyncEngine, SyncError, SyncReport};
use crate::codec::now_ms;
use crate::global;
use crate::StoreError;

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

impl SyncEngine<'_> {
    /// What the app shows about sync.
    pub async fn status(&self) -> Result<SyncStatus, StoreError> {
        let last = self.last_sync().await?;
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

    /// Stores the outcome of a round and tells every open page.
    pub(super) async fn record(&self, result: &Result<SyncReport, SyncError>) {
        let previous = self.last_sync().await.ok().flatten();
        let now = now_ms();
        let last = LastSync {
            succeeded_at_ms: match result {
                Ok(_) => Some(now),
                Err(_) => previous.and_then(|p| p.succeeded_at_ms),
            },
            error: match result {
                Err(err) => Some(err.to_string()),
                // Images that could not be uploaded (the account's quota, the size
                // limit): the changes naming them wait, and the status says why.
                Ok(SyncReport {
                    upload_problem: Some(problem),
                    ..
                }) => Some(format!("images wait to be uploaded: {problem}")),
                // Set-aside changes are listed on their own (`SyncStatus::set_aside`).
                Ok(_) => None,
            },
            finished_at_ms: now,
        };
        let _ = self.store_last_sync(&last).await;
        announce(self.store, Some(&last));
    }
}
