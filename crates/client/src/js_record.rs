//! Records whose values stay JavaScript values: the form the sync path moves records in.
//!
//! A pulled page is parsed by the browser (`JSON.parse`) and its records are stored as
//! they are: only the envelope (collection, id, clock, tombstone flag) is read into Rust,
//! never the value. Pushing reads the stored rows the same way and lets the browser
//! encode them (`JSON.stringify`). This keeps decoding out of sync's cost, and JSON
//! parsing and `serde_json::Value` out of the service worker's sync module.
//!
//! The JS shapes here are those of `cairn_protocol`'s types (`Record`, `PushResponse`,
//! `PullResponse`, the stored conflict), so rows written in one form read in the other;
//! the wasm tests check that they agree.

use cairn_protocol::limits::{self, RecordFacts};
use cairn_protocol::{ConflictKind, Hlc, Record, RecordKey, Versioned};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::codec::{from_js, to_js};
use crate::StoreError;

/// A record (the shape of [`cairn_protocol::Record`]) whose value is a JS value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsRecord {
    pub collection: String,
    pub id: String,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pub value: JsValue,
    pub hlc: Hlc,
    #[serde(default)]
    pub deleted: bool,
}

impl Versioned for JsRecord {
    fn hlc(&self) -> &Hlc {
        &self.hlc
    }
}

impl JsRecord {
    pub fn key(&self) -> RecordKey {
        RecordKey::new(self.collection.clone(), self.id.clone())
    }

    pub fn from_record(record: &Record) -> Result<JsRecord, StoreError> {
        Ok(JsRecord {
            collection: record.collection.clone(),
            id: record.id.clone(),
            value: to_js(&record.value)?,
            hlc: record.hlc.clone(),
            deleted: record.deleted,
        })
    }

    /// The record with its value decoded into Rust.
    pub fn decode(&self) -> Result<Record, StoreError> {
        let value = from_js::<serde_json::Value>(self.value.clone()).map_err(|reason| {
            StoreError::Corrupt {
                collection: self.collection.clone(),
                id: self.id.clone(),
                reason,
            }
        })?;
        Ok(Record {
            collection: self.collection.clone(),
            id: self.id.clone(),
            value,
            hlc: self.hlc.clone(),
            deleted: self.deleted,
        })
    }

    /// The record as the JSON of a pushed change made from the version with clock `base`
    /// (the shape of [`cairn_protocol::api::Change`]), once it passed every per-record
    /// limit; else why it cannot be pushed.
    #[cfg(all(test, target_arch = "wasm32"))]
    pub(crate) fn to_push_json(&self, base: Option<&Hlc>, now_ms: u64) -> Result<String, String> {
        let row = to_js(self).map_err(|e| e.to_string())?;
        self.push_json_of(&row, base, now_ms).map(String::from)
    }

    /// [`JsRecord::to_push_json`] from `row`, this record's row as stored (its fields
    /// are this record's; `base` is set on it), kept a JS string: the row is encoded
    /// by the browser and never copied into the wasm.
    pub(crate) fn push_json_of(
        &self,
        row: &JsValue,
        base: Option<&Hlc>,
        now_ms: u64,
    ) -> Result<js_sys::JsString, String> {
        let unencodable = || "its value cannot be encoded as JSON".to_owned();
        // `undefined` (or a function) would be left out of the row's JSON, not refused.
        if self.value.is_undefined() || self.value.is_function() {
            return Err(unencodable());
        }
        let base = match base {
            Some(hlc) => JsValue::from_str(&hlc.to_string()),
            None => JsValue::NULL,
        };
        if !js_sys::Reflect::set(row, &"base".into(), &base).unwrap_or(false) {
            return Err(unencodable());
        }
        let json = js_sys::JSON::stringify(row).map_err(|_| unencodable())?;
        // The value's JSON is a part of the row's, and a UTF-16 unit takes at most 3
        // bytes of UTF-8: a row within the size limit so counted holds a value within
        // it, and only a larger one is encoded again alone to be measured.
        let at_most = utf8_bound(&json);
        let value_bytes = if at_most <= limits::MAX_RECORD_BYTES {
            at_most
        } else {
            stringify(&self.value).ok_or_else(unencodable)?.len()
        };
        limits::check_record_facts(
            &RecordFacts {
                collection: &self.collection,
                id: &self.id,
                hlc: &self.hlc,
                deleted: self.deleted,
                value_is_null: self.value.is_null(),
                value_bytes,
            },
            now_ms,
        )
        .map_err(|e| e.to_string())?;
        Ok(json)
    }
}

/// At most how many bytes `text` takes as UTF-8: 3 per UTF-16 unit (a pair, 4 bytes,
/// is two units), without copying it out of JS.
pub(crate) fn utf8_bound(text: &js_sys::JsString) -> usize {
    3 * text.length() as usize
}

/// How many bytes `text` takes as UTF-8, exactly (it is copied into the wasm to count).
pub(crate) fn utf8_len(text: &js_sys::JsString) -> usize {
    String::from(text).len()
}

/// `JSON.stringify(value)`, if it encodes (`undefined` does not).
pub(crate) fn stringify(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
}

/// Decodes every record of `records`; one that does not decode is an error.
pub(crate) fn decode_all(records: &[JsRecord]) -> Result<Vec<Record>, StoreError> {
    records.iter().map(JsRecord::decode).collect()
}

/// Every record of `records` with its value as a JS value.
pub(crate) fn from_records(records: &[Record]) -> Result<Vec<JsRecord>, StoreError> {
    records.iter().map(JsRecord::from_record).collect()
}

/// A push reply (the shape of [`cairn_protocol::api::PushResponse`]), as far as the sync
/// loop reads it.
#[derive(Debug, Deserialize)]
pub(crate) struct PushReply {
    pub superseded: Vec<JsRecord>,
    #[serde(default)]
    pub seq_before: u64,
    #[serde(default)]
    pub seq_after: u64,
    #[serde(default)]
    pub refused: Vec<RefusedChange>,
    #[serde(default)]
    pub epoch: String,
    #[serde(default)]
    pub server_time_ms: u64,
}

/// A pull page (the shape of [`cairn_protocol::api::PullResponse`]).
#[derive(Debug, Deserialize)]
pub(crate) struct PullPage {
    pub records: Vec<JsRecord>,
    pub cursor: u64,
    pub more: bool,
    /// How many versions remain after this page (0 from servers that predate it).
    #[serde(default)]
    pub remaining: u64,
    #[serde(default)]
    pub head: u64,
    #[serde(default)]
    pub epoch: String,
    #[serde(default)]
    pub server_time_ms: u64,
}

pub(crate) use cairn_protocol::api::RefusedChange;

/// A logged conflict as stored (the shape of [`crate::StoredConflict`]).
#[derive(Serialize)]
pub(crate) struct ConflictRow<'a> {
    pub collection: &'a str,
    pub id: &'a str,
    pub lost_hlc: &'a Hlc,
    pub conflict: ConflictVersions<'a>,
}

/// The shape of [`cairn_protocol::Conflict`].
#[derive(Serialize)]
pub(crate) struct ConflictVersions<'a> {
    pub winner: &'a JsRecord,
    pub loser: &'a JsRecord,
    pub detected_at_ms: u64,
    pub kind: ConflictKind,
}

/// The stored row of a conflict: `winner` replaced `loser` (overwrote it, or merged it in,
/// as `kind` says).
pub(crate) fn conflict_row(
    winner: &JsRecord,
    loser: &JsRecord,
    detected_at_ms: u64,
    kind: ConflictKind,
) -> Result<JsValue, StoreError> {
    to_js(&ConflictRow {
        collection: &loser.collection,
        id: &loser.id,
        lost_hlc: &loser.hlc,
        conflict: ConflictVersions {
            winner,
            loser,
            detected_at_ms,
            kind,
        },
    })
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use cairn_protocol::api::{PullResponse, PushResponse, ServerClock};
    use cairn_protocol::{Conflict, DeviceId};
    use serde_json::json;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    use super::*;
    use crate::StoredConflict;

    wasm_bindgen_test_configure!(run_in_browser);

    fn record(id: &str, value: serde_json::Value, wall: u64) -> Record {
        let hlc = Hlc::new(wall, 0, DeviceId::new("dev").unwrap()).unwrap();
        Record::new(RecordKey::new("notes", id), value, hlc)
    }

    /// The browser's reading of `value` serialised by serde_json, as the network brings it.
    fn over_the_wire<T: Serialize>(value: &T) -> JsValue {
        js_sys::JSON::parse(&serde_json::to_string(value).unwrap()).unwrap()
    }

    #[wasm_bindgen_test]
    fn a_record_reads_back_the_same_in_either_form() {
        let original = record("n1", json!({"title": "hé", "n": [1, 2.5, null]}), 7);
        let js = JsRecord::from_record(&original).unwrap();
        assert_eq!(js.decode().unwrap(), original);
        let row = to_js(&js).unwrap();
        assert_eq!(from_js::<Record>(row).unwrap(), original);
        let row = to_js(&original).unwrap();
        assert_eq!(
            from_js::<JsRecord>(row).unwrap().decode().unwrap(),
            original
        );
        let tombstone = Record::tombstone(original.key(), original.hlc.clone());
        let js = JsRecord::from_record(&tombstone).unwrap();
        assert!(js.deleted && js.value.is_null());
        assert_eq!(js.decode().unwrap(), tombstone);
    }

    #[wasm_bindgen_test]
    fn push_and_pull_replies_read_as_the_server_writes_them() {
        let winner = record("n1", json!({"title": "theirs"}), 9);
        let server = ServerClock {
            epoch: "0123abcd".into(),
            server_time_ms: 1_700_000_000_000,
        };
        let refused = RefusedChange {
            collection: "notes".into(),
            id: "n3".into(),
            hlc: winner.hlc.clone(),
            error: "invalid_change".into(),
            message: "too large".into(),
        };
        let reply = PushResponse {
            applied: 1,
            duplicates: 0,
            superseded: vec![winner.clone()],
            seq_before: 4,
            seq_after: 5,
            refused: vec![refused.clone()],
            server: server.clone(),
        };
        let read: PushReply = from_js(over_the_wire(&reply)).unwrap();
        assert_eq!(decode_all(&read.superseded).unwrap(), vec![winner.clone()]);
        assert_eq!((read.seq_before, read.seq_after), (4, 5));
        assert_eq!(read.refused, vec![refused]);
        assert_eq!(
            (read.epoch.as_str(), read.server_time_ms),
            ("0123abcd", 1_700_000_000_000)
        );

        let page = PullResponse {
            records: vec![winner.clone(), record("n2", json!(3), 10)],
            cursor: 12,
            more: true,
            head: 20,
            remaining: 8,
            server,
        };
        let read: PullPage = from_js(over_the_wire(&page)).unwrap();
        assert_eq!(decode_all(&read.records).unwrap(), page.records);
        assert_eq!((read.cursor, read.more, read.head), (12, true, 20));
        assert_eq!(read.remaining, 8);
        assert_eq!(
            (read.epoch.as_str(), read.server_time_ms),
            ("0123abcd", 1_700_000_000_000)
        );
    }

    #[wasm_bindgen_test]
    fn push_json_is_the_record_as_the_server_reads_it() {
        let original = record("n1", json!({"title": "a \"quoted\" é"}), 7);
        let js = JsRecord::from_record(&original).unwrap();
        let json = js.to_push_json(None, 7).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), original);
        let base = record("n1", json!(1), 3).hlc;
        let change: cairn_protocol::api::Change =
            serde_json::from_str(&js.to_push_json(Some(&base), 7).unwrap()).unwrap();
        assert_eq!(change.into_parts(), (original.clone(), Some(base)));
    }

    #[wasm_bindgen_test]
    fn push_json_refuses_what_the_server_would() {
        let too_big = record("n1", json!("x".repeat(limits::MAX_RECORD_BYTES)), 7);
        let err = JsRecord::from_record(&too_big)
            .unwrap()
            .to_push_json(None, 7)
            .unwrap_err();
        assert!(err.contains("more than"), "{err}");

        let mut tombstone = JsRecord::from_record(&record("n1", json!(1), 7)).unwrap();
        tombstone.deleted = true;
        assert!(tombstone.to_push_json(None, 7).is_err());

        let from_the_future = record("n1", json!(1), 10 * cairn_protocol::hlc::MAX_DRIFT_MS);
        let js = JsRecord::from_record(&from_the_future).unwrap();
        assert!(js.to_push_json(None, 0).is_err());
        assert!(js.to_push_json(None, from_the_future.hlc.wall_ms()).is_ok());
    }

    /// The size limit counts the value's UTF-8 bytes exactly, also where the row's JSON
    /// is too long to be told within it by its length alone (3 bytes a UTF-16 unit).
    #[wasm_bindgen_test]
    fn push_json_measures_a_large_value_exactly() {
        // "é" is 2 bytes of UTF-8 and 1 unit of UTF-16; the quotes make 2 bytes more.
        let at_limit = "é".repeat((limits::MAX_RECORD_BYTES - 2) / 2);
        let fits = record("n1", json!(at_limit), 7);
        let json = JsRecord::from_record(&fits)
            .unwrap()
            .to_push_json(None, 7)
            .unwrap();
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), fits);
        let over = record("n1", json!(format!("{at_limit}é")), 7);
        let err = JsRecord::from_record(&over)
            .unwrap()
            .to_push_json(None, 7)
            .unwrap_err();
        assert!(err.contains("more than"), "{err}");
        let text = js_sys::JsString::from(at_limit.as_str());
        assert_eq!(utf8_len(&text), at_limit.len());
        assert!(utf8_bound(&text) >= at_limit.len());
    }

    #[wasm_bindgen_test]
    fn a_conflict_row_reads_as_a_stored_conflict() {
        let (mine, theirs) = (
            record("n1", json!("mine"), 7),
            record("n1", json!("theirs"), 9),
        );
        let row = conflict_row(
            &JsRecord::from_record(&theirs).unwrap(),
            &JsRecord::from_record(&mine).unwrap(),
            42,
            ConflictKind::Merged,
        )
        .unwrap();
        assert_eq!(
            from_js::<StoredConflict>(row).unwrap(),
            StoredConflict {
                collection: "notes".into(),
                id: "n1".into(),
                lost_hlc: mine.hlc.clone(),
                conflict: Conflict {
                    winner: theirs,
                    loser: mine,
                    detected_at_ms: 42,
                    kind: ConflictKind::Merged,
                },
            }
        );
    }
}
