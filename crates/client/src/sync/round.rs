//! One sync round under the Web Lock ([`SyncEngine::sync_once`]): push the outbox, pull
//! what changed elsewhere, and push again what the round merged.

use cairn_protocol::RecordKey;

use super::{SyncEngine, SyncError, SYNC_LOCK};
use crate::global;
use crate::js_record::JsRecord;

/// How many times one round pushes again what it merged.
const MERGE_PASSES: usize = 3;

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
    /// Blobs uploaded this round (`PUT /api/v1/blobs/{hash}` answered 2xx; their marks
    /// cleared).
    pub uploaded: usize,
    /// Local changes the last push of the round held back because they name a blob not
    /// uploaded yet; they stay queued.
    pub held_back: usize,
    /// Why a blob was not uploaded, with the server's message: the account's quota
    /// (507 `quota_exceeded`) or the per-file limit (413 `blob_too_large`), which stop
    /// the uploads of the round, or a refusal of one blob. Nothing was dropped; the
    /// round's status shows it.
    pub upload_problem: Option<SyncError>,
    /// The uploads of this round stopped (quota or size).
    pub(super) uploads_stopped: bool,
}

impl SyncEngine<'_> {
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
            self.store_session(None).await?;
        }
        outcome.map(|()| report)
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
