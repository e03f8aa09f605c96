//! Helpers shared by the wasm test binaries (`mod support;` in each).
#![allow(dead_code)] // each test binary uses only some of them

use cairn_client::Store;
use cairn_protocol::RecordKey;

/// A fresh database for one test: `name` deleted, then opened.
pub async fn fresh(name: &str) -> Store {
    Store::delete_database(name).await.unwrap();
    Store::open(name).await.unwrap()
}

pub fn key(collection: &str, id: &str) -> RecordKey {
    RecordKey::new(collection, id)
}
