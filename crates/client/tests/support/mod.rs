//! Helpers shared by the wasm test binaries (`mod support;` in each).
#![allow(dead_code)] // each test binary uses only some of them

use cairn_client::Store;
use cairn_protocol::RecordKey;
use rexie::{Rexie, TransactionMode};
use wasm_bindgen::JsValue;

/// A fresh database for one test: `name` deleted, then opened.
pub async fn fresh(name: &str) -> Store {
    Store::delete_database(name).await.unwrap();
    Store::open(name).await.unwrap()
}

pub fn key(collection: &str, id: &str) -> RecordKey {
    RecordKey::new(collection, id)
}

/// `value` as a plain JS object (not a Map), as the store writes it.
pub fn plain(value: serde_json::Value) -> JsValue {
    use serde::Serialize;
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap()
}

/// Puts raw rows into `store` of database `name`, bypassing the typed API.
pub async fn put_raw(name: &str, store: &str, rows: &[(Option<&str>, serde_json::Value)]) {
    let db = Rexie::builder(name).build().await.unwrap();
    let tx = db
        .transaction(&[store], TransactionMode::ReadWrite)
        .unwrap();
    for (key, row) in rows {
        let key = key.map(JsValue::from_str);
        tx.store(store)
            .unwrap()
            .put(&plain(row.clone()), key.as_ref())
            .await
            .unwrap();
    }
    tx.done().await.unwrap();
    db.close();
}
