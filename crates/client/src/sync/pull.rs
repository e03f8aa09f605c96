//! Pulling: pages from the stored position until the server has no more, each applied
//! by the merge rule in one transaction with the new position; a server that lost
//! versions is pulled again from the start.

use cairn_protocol::limits::MAX_PULL_LIMIT;
use wasm_bindgen::{JsCast, JsValue};

use super::{PullPosition, StoredSession, SyncEngine, SyncError, SyncReport};
use crate::codec::from_js;
use crate::js_record::PullPage;
use crate::schema::META_PULL_POSITION;

/// How far the pull of a round is: versions pulled so far, of how many the server had
/// for this device when it answered the last page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullProgress {
    pub pulled: u64,
    pub total: u64,
}

impl SyncEngine<'_> {
    /// Pulls until nothing more remains. Returns true when it found that the server lost
    /// versions this device had pulled (a new database epoch, or the account's head
    /// behind the cursor): then it queued everything this device holds and pulled from
    /// the start, and the caller pushes again.
    pub(super) async fn pull_all(
        &self,
        session: &StoredSession,
        report: &mut SyncReport,
    ) -> Result<bool, SyncError> {
        let position = self
            .pull_position()
            .await?
            .filter(|p| p.email == session.email);
        let mut epoch = position
            .as_ref()
            .map(|p| p.epoch.clone())
            .unwrap_or_default();
        let mut cursor = position.map_or(0, |p| p.cursor);
        let excluded = self.excluded_collections().await?;
        let mut restarted = false;
        let mut pulled = 0u64;
        // The page fetched while the one before it was being applied, if any.
        let mut fetched: Option<Result<(PullPage, Vec<JsValue>), SyncError>> = None;
        loop {
            let (mut page, mut rows) = match fetched.take() {
                Some(page) => page?,
                None => self.fetch_page(session, cursor).await?,
            };
            self.store.observe_server_time(page.server_time_ms).await?;
            // A server that predates epochs sends none; one whose epoch is new to this
            // device's cursor (or a cursor it never reached) lost what the cursor counts.
            let new_epoch = !page.epoch.is_empty() && !epoch.is_empty() && page.epoch != epoch;
            let lost = !page.epoch.is_empty() && cursor > page.head;
            if (new_epoch || lost) && !restarted {
                // Every record queued again, and every local blob one names marked for
                // upload again (one transaction): the server gets the blobs first.
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
            if !excluded.is_empty() {
                let kept: Vec<bool> = page
                    .records
                    .iter()
                    .map(|r| !excluded.contains(&r.collection))
                    .collect();
                page.records.retain(|r| !excluded.contains(&r.collection));
                let mut kept = kept.into_iter();
                rows.retain(|_| kept.next().unwrap_or(false));
            }
            let position = PullPosition {
                email: session.email.clone(),
                cursor: page.cursor,
                epoch: epoch.clone(),
            };
            let last = !page.more || page.cursor == cursor;
            let apply =
                self.store
                    .apply_pulled(&page.records, &rows, (META_PULL_POSITION, &position));
            // The next page is fetched while this one is applied; it is looked at (epoch,
            // head) only once this one is stored, as if fetched after it.
            let applied = if last {
                apply.await?
            } else {
                let (applied, next) =
                    futures_util::future::join(apply, self.fetch_page(session, page.cursor)).await;
                fetched = Some(next);
                applied?
            };
            report.pulled += page.records.len();
            report.conflicts += applied.conflicts;
            report.merged += applied.rebased;
            report.changed.extend(applied.changed);
            if last {
                return Ok(restarted);
            }
            cursor = page.cursor;
        }
    }

    /// The page of changes after `cursor`, with the objects its records were read from
    /// (in order).
    async fn fetch_page(
        &self,
        session: &StoredSession,
        cursor: u64,
    ) -> Result<(PullPage, Vec<JsValue>), SyncError> {
        let path = format!("/api/v1/sync/pull?since={cursor}&limit={MAX_PULL_LIMIT}");
        let value = self
            .call_value("GET", &path, Some(&session.token), None)
            .await?;
        let rows = js_sys::Reflect::get(&value, &JsValue::from_str("records"))
            .ok()
            .and_then(|rows| rows.dyn_into::<js_sys::Array>().ok())
            .map(|rows| rows.to_vec())
            .unwrap_or_default();
        let page: PullPage = from_js(value).map_err(SyncError::BadReply)?;
        Ok((page, rows))
    }
}
