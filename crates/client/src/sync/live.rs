//! Live changes: the server's stream of the account's cursor (`GET /api/v1/sync/events`,
//! Server-Sent Events), so a device hears of another device's push as it commits.
//!
//! The stream only says *that* something changed (the account's new cursor); what changed
//! is pulled by an ordinary round, under the same Web Lock as every round. The stream is
//! opened with `fetch` (so the bearer token goes in the `Authorization` header, as for
//! every other call) and its body read as it arrives. The first event is the account's
//! current cursor: a device that missed events while disconnected sees at once that it is
//! behind.

use cairn_protocol::api::CURSOR_EVENT;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::http::{error_of, js_error};
use super::{SyncEngine, SyncError};
use crate::codec::from_js;
use crate::global;

/// One event of the stream: the account's cursor (its latest sequence number) in the
/// server database `epoch`.
pub use cairn_protocol::api::CursorEvent;

/// The path of the stream.
pub const EVENTS_PATH: &str = "/api/v1/sync/events";

impl SyncEngine<'_> {
    /// Holds the account's change stream open, calling `on_event` with each event, until
    /// the server ends it, the connection drops, or `abort` fires (then `Ok`). Fails at
    /// once when signed out or refused (`Unauthorized`, `RateLimited`, …), like a round.
    pub async fn listen(
        &self,
        abort: &web_sys::AbortSignal,
        mut on_event: impl FnMut(CursorEvent),
    ) -> Result<(), SyncError> {
        if !global::is_online() {
            return Err(SyncError::Offline);
        }
        let session = self.stored_session().await?.ok_or(SyncError::SignedOut)?;
        let init = web_sys::RequestInit::new();
        init.set_method("GET");
        init.set_cache(web_sys::RequestCache::NoStore);
        init.set_signal(Some(abort));
        let headers = web_sys::Headers::new().map_err(js_error)?;
        headers
            .set("Accept", "text/event-stream")
            .map_err(js_error)?;
        headers
            .set("Authorization", &format!("Bearer {}", session.token))
            .map_err(js_error)?;
        init.set_headers(&headers);
        let url = format!("{}{EVENTS_PATH}", self.base_url);
        let request = web_sys::Request::new_with_str_and_init(&url, &init).map_err(js_error)?;
        let response = match global::fetch(&request).await {
            Ok(response) => response,
            Err(_) if abort.aborted() => return Ok(()),
            Err(e) => return Err(js_error(e)),
        };
        if !(200..300).contains(&response.status()) {
            return Err(error_of(response).await);
        }
        let Some(body) = response.body() else {
            return Err(SyncError::BadReply("the event stream has no body".into()));
        };
        let reader: web_sys::ReadableStreamDefaultReader = body
            .get_reader()
            .dyn_into()
            .map_err(|_| SyncError::BadReply("the event stream cannot be read".into()))?;
        let decoder = web_sys::TextDecoder::new().map_err(js_error)?;
        let options = web_sys::TextDecodeOptions::new();
        options.set_stream(true);
        let mut events = EventParser::default();
        loop {
            let chunk = match JsFuture::from(reader.read()).await {
                Ok(chunk) => chunk,
                Err(_) if abort.aborted() => return Ok(()),
                Err(e) => return Err(js_error(e)),
            };
            let done = js_sys::Reflect::get(&chunk, &"done".into())
                .map(|d| d.is_truthy())
                .unwrap_or(true);
            if done {
                return Ok(());
            }
            let bytes: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())
                .map_err(js_error)?
                .dyn_into()
                .map_err(js_error)?;
            let text = decoder
                .decode_with_js_u8_array_and_options(&bytes, &options)
                .map_err(js_error)?;
            for event in events.push(&text) {
                on_event(event);
            }
        }
    }

    /// Whether `event` names versions this device has not pulled: a cursor beyond its
    /// own, or another server database.
    pub async fn is_behind(&self, event: &CursorEvent) -> Result<bool, SyncError> {
        Ok(match self.pull_position().await? {
            None => true,
            Some(p) => {
                event.cursor > p.cursor
                    || (!event.epoch.is_empty() && !p.epoch.is_empty() && event.epoch != p.epoch)
            }
        })
    }
}

/// Splits the stream's text into events: blocks separated by a blank line, of which
/// those named `cursor` carry a [`CursorEvent`] as JSON in their `data` lines. Comments
/// (heartbeats) and other events are skipped.
#[derive(Default)]
struct EventParser {
    buffer: String,
}

impl EventParser {
    fn push(&mut self, text: &str) -> Vec<CursorEvent> {
        self.buffer.push_str(&text.replace("\r\n", "\n"));
        let mut events = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut name, mut data) = ("message", String::new());
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = if value.trim() == CURSOR_EVENT {
                        CURSOR_EVENT
                    } else {
                        "other"
                    };
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if name != CURSOR_EVENT {
                continue;
            }
            if let Some(event) = js_sys::JSON::parse(&data)
                .ok()
                .and_then(|v| from_js::<CursorEvent>(v).ok())
            {
                events.push(event);
            }
        }
        events
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn events_are_read_across_chunks_and_heartbeats_skipped() {
        let mut parser = EventParser::default();
        assert!(parser.push(": heartbeat\n\nevent: cur").is_empty());
        let events = parser.push("sor\ndata: {\"cursor\": 7, \"epoch\": \"ab\"}\n\nevent: cursor\r\ndata: {\"cursor\": 9, \"epoch\": \"ab\"}\r\n\r\n");
        assert_eq!(
            events,
            vec![
                CursorEvent {
                    cursor: 7,
                    epoch: "ab".into()
                },
                CursorEvent {
                    cursor: 9,
                    epoch: "ab".into()
                },
            ]
        );
        assert!(parser
            .push("event: other\ndata: {\"cursor\": 1}\n\n")
            .is_empty());
    }
}
