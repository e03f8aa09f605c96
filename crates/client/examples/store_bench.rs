//! The store under load, for `cargo xtask bench` (see `xtask/src/bench.rs`).
//!
//! Each export runs one benchmark case against a fresh or prepared database and returns
//! the milliseconds spent in the store calls only (data is generated before the clock
//! starts). `tests/e2e/bench/page/raw_idb.js` has the same cases on raw IndexedDB.
//!
//! The `sync_*` exports drive the sync engine against the server that serves the page,
//! for the end-to-end sync benchmark; the `images_*` exports the images case (notes with
//! one image each: added, uploaded by a round, fetched on another device).

use cairn_client::{Store, StoredBlob, SyncEngine};
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

/// One sync round of `db`: `[ms, records pushed, records pulled, blobs uploaded]`.
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
        report.uploaded as f64,
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

/// `bytes` seeded pseudo-random bytes (noise: like a photo, it does not compress), the
/// same generator as the PouchDB page's `noise`.
fn noise(bytes: u32, seed: u32) -> Vec<u8> {
    let mut a = seed;
    let mut out = Vec::with_capacity(bytes as usize + 4);
    while out.len() < bytes as usize {
        a = a.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        out.extend_from_slice(&a.to_le_bytes());
    }
    out.truncate(bytes as usize);
    out
}

/// Adds `n` notes to `db`, each with one `bytes`-byte image, as the app does (blob,
/// upload mark, note and outbox entry in one transaction); not timed. Returns the hashes.
#[wasm_bindgen]
pub async fn images_add(db: String, n: u32, bytes: u32) -> Result<Vec<String>, JsValue> {
    let store = Store::open(&db).await.map_err(js_err)?;
    let mut hashes = Vec::new();
    for i in 0..n {
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("image/jpeg");
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(noise(bytes, i + 1).as_slice()));
        let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
        let stored = StoredBlob::from_blob("photo.jpg", &blob)
            .await
            .map_err(js_err)?;
        let value = json!({
            "title": format!("Photo {i}"),
            "images": [{"id": stored.id, "name": "photo.jpg", "type": "image/jpeg", "size": bytes}],
            "blobs": [stored.id],
        });
        store
            .put_record_with_blobs(
                RecordKey::new("notes", format!("p{i:03}")),
                value,
                std::slice::from_ref(&stored),
            )
            .await
            .map_err(js_err)?;
        hashes.push(stored.id);
    }
    Ok(hashes)
}

/// Fetches every blob `hashes` names from the server into `db` (as a device does when the
/// images are first shown), one after another; the milliseconds and the bytes fetched.
#[wasm_bindgen]
pub async fn images_fetch(db: String, hashes: Vec<String>) -> Result<Vec<f64>, JsValue> {
    let store = Store::open(&db).await.map_err(js_err)?;
    let engine = SyncEngine::new(&store, "");
    let start = now();
    let mut bytes = 0.0;
    for hash in &hashes {
        bytes += engine.fetch_blob(hash).await.map_err(js_err)?.size;
    }
    Ok(vec![now() - start, bytes])
}

fn main() {}
