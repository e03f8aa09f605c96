//! Pushing the outbox: its entries in batches below both
//! [`MAX_CHANGES_PER_PUSH`] and [`MAX_PUSH_BYTES`], each reply's acknowledged entries
//! dropped and its winners reconciled, refused changes set aside.
//!
//! The body of a push is put together as text from each stored row's JSON (made by the
//! browser), so values are never decoded into Rust on the way out.

use std::collections::{BTreeSet, VecDeque};

use cairn_protocol::api::PUSH_PROTOCOL;
use cairn_protocol::limits::{MAX_CHANGES_PER_PUSH, MAX_PUSH_BYTES};
use cairn_protocol::RecordKey;
use js_sys::JsString;
use wasm_bindgen::JsValue;

use super::http::json_body;
use super::{PullPosition, StoredSession, SyncEngine, SyncError, SyncReport};
use crate::blobs::{js_referenced, plan};
use crate::codec::to_js;
use crate::js_record::{utf8_bound, utf8_len, JsRecord, PushReply};
use crate::schema::META_PULL_POSITION;
use crate::store::OutboxEntry;

/// One push batch: its changes in outbox order, each with its JSON (a JS string).
type Batch = Vec<(JsRecord, JsString)>;

/// The size limit of a push's changes: the body limit less room for the envelope.
const BATCH_BYTES: usize = MAX_PUSH_BYTES - 1024;

impl SyncEngine<'_> {
    /// Uploads the blobs marked here, then pushes every outbox entry of a collection
    /// that syncs, but those naming a blob still marked (held back, they stay queued).
    ///
    /// The batches are pipelined, one request in flight at a time: while the server
    /// answers one, the reply of the one before is acknowledged and the next chunk of the
    /// outbox is read and encoded. Each reply is acknowledged before the next one is
    /// (the pull position each moves is read from the one before), and the server gets
    /// the batches one after the other, in order, as before.
    pub(super) async fn push_all(
        &self,
        session: &StoredSession,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        self.upload_marked(session, report).await?;
        report.held_back = 0;
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
        let mut chunks = entries.chunks(MAX_CHANGES_PER_PUSH);
        let mut ready: VecDeque<Batch> = VecDeque::new();
        // A batch the server took whose reply is not acknowledged yet.
        let mut unacknowledged: Option<(Vec<JsRecord>, PushReply)> = None;
        loop {
            let Some(batch) = ready.pop_front() else {
                // Nothing to send while this runs.
                if let Some((changes, reply)) = unacknowledged.take() {
                    self.acknowledge(session, changes, reply, report).await?;
                }
                match chunks.next() {
                    Some(chunk) => ready.extend(self.prepare(chunk, now, report).await?),
                    None => return Ok(()),
                }
                continue;
            };
            let (changes, jsons): (Vec<JsRecord>, Vec<JsString>) = batch.into_iter().unzip();
            let sent = self.call_js::<PushReply>(
                "POST",
                "/api/v1/sync/push",
                Some(&session.token),
                Some(push_body(&device_id, &jsons).into()),
            );
            drop(jsons);
            let beside = async {
                if let Some((changes, reply)) = unacknowledged.take() {
                    self.acknowledge(session, changes, reply, report).await?;
                }
                if ready.is_empty() {
                    if let Some(chunk) = chunks.next() {
                        ready.extend(self.prepare(chunk, now, report).await?);
                    }
                }
                Ok::<(), SyncError>(())
            };
            // Both run to their end: an acknowledgement is never cut off half-way by the
            // failure of the request beside it.
            let (reply, beside) = futures_util::future::join(sent, beside).await;
            beside?;
            unacknowledged = Some((changes, reply?));
        }
    }

    /// Reads the records of `chunk` (outbox entries) and encodes them, in batches below
    /// [`MAX_PUSH_BYTES`]; sets aside those breaking a protocol limit, and counts those
    /// held back for a blob not uploaded yet.
    async fn prepare(
        &self,
        chunk: &[OutboxEntry],
        now: u64,
        report: &mut SyncReport,
    ) -> Result<Vec<Batch>, SyncError> {
        let mut batches = Vec::new();
        let mut batch: Batch = Vec::with_capacity(chunk.len());
        // The UTF-8 size of each change of `batch` with its comma: at most, until the
        // batch comes near the limit, then exactly.
        let mut sizes: Vec<(usize, bool)> = Vec::with_capacity(chunk.len());
        let mut bytes = 0;
        let mut refused = Vec::new();
        // The marks are read after the records (one transaction): a record written with
        // its blobs since is read with its mark (one transaction wrote both), so it
        // cannot slip through unmarked.
        let (records, marks) = self.store.records_to_push(chunk).await?;
        let marked: BTreeSet<String> = marks.into_iter().collect();
        for (record, row, base) in records {
            if plan::holds_back(&js_referenced(&record.value, record.deleted), &marked) {
                report.held_back += 1;
                continue;
            }
            let json = match record.push_json_of(&row, base.as_ref(), now) {
                Ok(json) => json,
                Err(reason) => {
                    refused.push((record, reason));
                    continue;
                }
            };
            // Keep under the body limit: the records' JSON plus the envelope. Counted
            // at 3 bytes a UTF-16 unit while that is far enough below it.
            let mut size = (utf8_bound(&json) + 1, false);
            if bytes + size.0 > BATCH_BYTES {
                for ((_, json), size) in batch.iter().zip(sizes.iter_mut()) {
                    if !size.1 {
                        *size = (utf8_len(json) + 1, true);
                    }
                }
                bytes = sizes.iter().map(|s| s.0).sum();
                size = (utf8_len(&json) + 1, true);
                if bytes + size.0 > BATCH_BYTES && !batch.is_empty() {
                    batches.push(std::mem::take(&mut batch));
                    sizes.clear();
                    bytes = 0;
                }
            }
            bytes += size.0;
            sizes.push(size);
            batch.push((record, json));
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        self.set_aside(refused, report).await?;
        Ok(batches)
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

    /// After the server's `reply` to a push of `changes`: drops the changes it took from
    /// the outbox (those unchanged since), reconciles the winners it named, moves the
    /// pull position past this push when nothing else came between, and sets aside the
    /// changes it refused.
    async fn acknowledge(
        &self,
        session: &StoredSession,
        changes: Vec<JsRecord>,
        reply: PushReply,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        self.store.observe_server_time(reply.server_time_ms).await?;
        // Nothing else was stored between our cursor and this push (in the same server
        // database): skip our own echo.
        let current = match self.pull_position().await? {
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
        let refused_keys: BTreeSet<RecordKey> = reply
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
}

/// The body of a push (the shape of [`cairn_protocol::api::PushRequest`], taking a
/// partial push) from the device whose id is `device_id` as JSON, of the changes whose
/// JSON is `changes`; put together in JS.
fn push_body(device_id: &str, changes: &[JsString]) -> JsString {
    let changes: js_sys::Array = changes.iter().collect();
    JsString::from(format!(
        r#"{{"protocol":{PUSH_PROTOCOL},"device_id":{device_id},"partial":true,"changes":["#
    ))
    .concat(&changes.join(","))
    .concat(&JsValue::from_str("]}"))
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use cairn_protocol::api::{Change, PushRequest};
    use cairn_protocol::{DeviceId, Hlc, Record};
    use serde_json::json;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    use super::*;

    wasm_bindgen_test_configure!(run_in_browser);

    fn hlc(wall: u64) -> Hlc {
        Hlc::new(wall, 0, DeviceId::new("dev").unwrap()).unwrap()
    }

    #[wasm_bindgen_test]
    fn a_push_body_reads_as_the_push_request_the_server_takes() {
        let awkward = "\"quoted\" \\back\\slash\\ </script> \u{2028} é 😀";
        let created = Record::new(
            RecordKey::new("notes", awkward),
            json!({
                "title": awkward,
                "body": "line\nbreak\ttab\r\u{0}\u{1f}",
                "nested": [null, true, 2.5, {"\"key\"": "\\"}],
            }),
            hlc(7),
        );
        let edited = Record::new(RecordKey::new("prefs", "theme"), json!("dark"), hlc(9));
        let deleted = Record::tombstone(RecordKey::new("notes", "gone"), hlc(11));
        let changes = [
            (created, None),
            (edited, Some(hlc(3))),
            (deleted.clone(), Some(deleted.hlc.clone())),
        ];
        let jsons: Vec<JsString> = changes
            .iter()
            .map(|(record, base)| {
                JsRecord::from_record(record)
                    .unwrap()
                    .to_push_json(base.as_ref(), 20)
                    .unwrap()
                    .into()
            })
            .collect();
        let device = DeviceId::new("0123456789abcdef").unwrap();

        let body = String::from(push_body(&json_body(&device).unwrap(), &jsons));

        let request: PushRequest = serde_json::from_str(&body).unwrap();
        assert_eq!(
            request,
            PushRequest {
                protocol: PUSH_PROTOCOL,
                device_id: device,
                changes: changes
                    .into_iter()
                    .map(|(record, base)| Change::new(record, base))
                    .collect(),
                partial: true,
            }
        );
        // Every field is written, none left to a default when read.
        let fields: BTreeSet<String> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&body)
                .unwrap()
                .keys()
                .cloned()
                .collect();
        assert_eq!(
            fields,
            ["changes", "device_id", "partial", "protocol"]
                .map(String::from)
                .into()
        );
    }
}
