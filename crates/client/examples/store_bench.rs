//! The store under load, for `cargo xtask bench` (see `xtask/src/bench.rs`).
//!
//! Each export runs one benchmark case against a fresh or prepared database and returns
//! the milliseconds spent in the store calls only (data is generated before the clock
//! starts). `tests/e2e/bench/page/raw_idb.js` has the same cases on raw IndexedDB.
//!
//! The `sync_*` exports drive the sync engine against the server that serves the page,
//! for the end-to-end sync benchmark.

use cairn_client::{Store, SyncEngine};
use cairn_protocol::api::{Change, PushRequest, PUSH_PROTOCOL};
use cairn_protocol::{DeviceId, HlcClock, Record, RecordKey};
use serde_json::json;
use wasm_bindgen::prelude::*;

/// About 300 bytes of JSON per record, like a short note.
fn payload(i: u32) -> serde_json::Value {
    json!({
        "title": format!("Note {i}"),
        "body": "Cairn keeps every note on the device first and syncs it later. This body \
                 stands in for a short paragraph a person would type: a few sentences, \
                 some punctuation, nothing that compresses unusually well or badly.",
        "tags": ["bench", "cairn"],
        "n": i,
    })
}

fn key(i: u32) -> RecordKey {
    RecordKey::new("notes", format!("n{i:05}"))
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

async fn fresh(db: &str) -> Result<Store, JsValue> {
    Store::delete_database(db).await.map_err(js_err)?;
    Store::open(db).await.map_err(js_err)
}

/// Writes `n` records in one `write_many` into a fresh database.
#[wasm_bindgen]
pub async fn bulk_write(db: String, n: u32) -> Result<f64, JsValue> {
    let store = fresh(&db).await?;
    let changes: Vec<_> = (0..n).map(|i| (key(i), payload(i))).collect();
    let start = now();
    store.write_many(changes).await.map_err(js_err)?;
    Ok(now() - start)
}

/// Reads the whole collection written by `bulk_write`; fails unless it has `n` records.
#[wasm_bindgen]
pub async fn read_all(db: String, n: u32) -> Result<f64, JsValue> {
    let store = Store::open(&db).await.map_err(js_err)?;
    let start = now();
    let loaded = store.load_collection("notes").await.map_err(js_err)?;
    let ms = now() - start;
    if loaded.records.len() != n as usize {
        return Err(js_err(format!(
            "read {} records, expected {n}",
            loaded.records.len()
        )));
    }
    Ok(ms)
}

/// `n` sequential single-record writes into a fresh database; the time of each.
#[wasm_bindgen]
pub async fn sequential_writes(db: String, n: u32) -> Result<Vec<f64>, JsValue> {
    let store = fresh(&db).await?;
    let mut times = Vec::with_capacity(n as usize);
    for i in 0..n {
        let value = payload(i);
        let start = now();
        store.write(key(i), value).await.map_err(js_err)?;
        times.push(now() - start);
    }
    Ok(times)
}

/// Opens (creating) `db` and signs it in to the page's server as `email`, creating the
/// account when `new_account`.
#[wasm_bindgen]
pub async fn sync_sign_in(
    db: String,
    email: String,
    password: String,
    new_account: bool,
) -> Result<(), JsValue> {
    let store = Store::open(&db).await.map_err(js_err)?;
    let sync = SyncEngine::new(&store, "");
    if new_account {
        sync.sign_up(&email, &password).await.map_err(js_err)?;
    } else {
        sync.sign_in(&email, &password).await.map_err(js_err)?;
    }
    Ok(())
}

/// Writes `n` records into `db` as local changes (queued for sync), in one transaction.
#[wasm_bindgen]
pub async fn fill(db: String, n: u32) -> Result<(), JsValue> {
    let store = Store::open(&db).await.map_err(js_err)?;
    let changes: Vec<_> = (0..n).map(|i| (key(i), payload(i))).collect();
    store.write_many(changes).await.map_err(js_err)?;
    Ok(())
}

/// One sync round of `db`: `[ms, records pushed, records pulled]`.
#[wasm_bindgen]
pub async fn sync_round(db: String) -> Result<Vec<f64>, JsValue> {
    let store = Store::open(&db).await.map_err(js_err)?;
    let start = now();
    let report = SyncEngine::new(&store, "")
        .sync_once()
        .await
        .map_err(js_err)?;
    Ok(vec![
        now() - start,
        report.pushed as f64,
        report.pulled as f64,
    ])
}

/// The same `n` records as `fill` writes, as the JSON a push carries, for the raw-HTTP
/// baseline (`raw_idb.js`): clocks from a fixed device.
#[wasm_bindgen]
pub fn push_payloads(n: u32, batch: u32) -> Result<Vec<String>, JsValue> {
    let device = DeviceId::new("baseline").map_err(js_err)?;
    let mut clock = HlcClock::new(device.clone());
    let now = js_sys::Date::now() as u64;
    let records: Vec<Record> = (0..n)
        .map(|i| {
            Ok(Record::new(
                key(i),
                payload(i),
                clock.tick(now).map_err(js_err)?,
            ))
        })
        .collect::<Result<_, JsValue>>()?;
    records
        .chunks(batch as usize)
        .map(|changes| {
            serde_json::to_string(&PushRequest {
                protocol: PUSH_PROTOCOL,
                device_id: device.clone(),
                // New records: made from nothing.
                changes: changes
                    .iter()
                    .map(|r| Change::new(r.clone(), None))
                    .collect(),
                partial: false,
            })
            .map_err(js_err)
        })
        .collect()
}

fn main() {}
