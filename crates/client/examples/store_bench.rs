//! The store under load, for `cargo xtask bench` (see `xtask/src/bench.rs`).
//!
//! Each export runs one benchmark case against a fresh or prepared database and returns
//! the milliseconds spent in the store calls only (data is generated before the clock
//! starts). `tests/e2e/bench/page/raw_idb.js` has the same cases on raw IndexedDB.

use cairn_client::Store;
use cairn_protocol::RecordKey;
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

fn main() {}
