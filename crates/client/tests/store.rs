//! The store in a real browser (headless Chromium via wasm-bindgen-test).
#![cfg(target_arch = "wasm32")]

use cairn_client::{Store, StoreError};
use cairn_protocol::{DeviceId, Hlc, Record, RecordKey};
use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh database for one test.
async fn fresh(name: &str) -> Store {
    Store::delete(name).await.unwrap();
    Store::open(name).await.unwrap()
}

#[wasm_bindgen_test]
async fn put_then_get_returns_the_same_record() {
    let store = fresh("test-put-get").await;
    let key = RecordKey::new("notes", "n1");
    let hlc = Hlc::new(42, 0, DeviceId::new("dev1").unwrap()).unwrap();
    let record = Record::new(key.clone(), json!({"title": "hello", "tags": ["a"]}), hlc);

    store.put(&record).await.unwrap();

    assert_eq!(store.get(&key).await.unwrap(), Some(record));
    assert_eq!(
        store
            .get(&RecordKey::new("notes", "missing"))
            .await
            .unwrap(),
        None
    );
}

#[wasm_bindgen_test]
async fn same_id_in_two_collections_are_two_records() {
    let store = fresh("test-collections").await;
    store
        .write(RecordKey::new("a", "x"), json!(1))
        .await
        .unwrap();
    store
        .write(RecordKey::new("b", "x"), json!(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .get(&RecordKey::new("a", "x"))
            .await
            .unwrap()
            .unwrap()
            .value,
        json!(1)
    );
    assert_eq!(
        store
            .get(&RecordKey::new("b", "x"))
            .await
            .unwrap()
            .unwrap()
            .value,
        json!(2)
    );
}

#[wasm_bindgen_test]
async fn writes_are_stamped_with_increasing_clocks_that_survive_reopening() {
    let name = "test-clock";
    let store = fresh(name).await;
    let first = store
        .write(RecordKey::new("n", "1"), json!("a"))
        .await
        .unwrap();
    let second = store
        .write(RecordKey::new("n", "1"), json!("b"))
        .await
        .unwrap();
    assert!(second.hlc > first.hlc);
    assert_eq!(first.hlc.device(), &store.device_id());
    let device = store.device_id();
    drop(store);

    let reopened = Store::open(name).await.unwrap();
    assert_eq!(reopened.device_id(), device, "device id is stable");
    let third = reopened
        .write(RecordKey::new("n", "1"), json!("c"))
        .await
        .unwrap();
    assert!(third.hlc > second.hlc, "clock resumes after its last value");
    assert_eq!(
        reopened
            .get(&RecordKey::new("n", "1"))
            .await
            .unwrap()
            .unwrap()
            .value,
        json!("c")
    );
}

#[wasm_bindgen_test]
async fn an_undecodable_record_is_reported_as_corrupt() {
    let name = "test-corrupt";
    fresh(name).await;
    // Plant a row whose clock is not a valid HLC, bypassing the typed API.
    let raw = rexie::Rexie::builder(name).build().await.unwrap();
    let tx = raw
        .transaction(&["records"], rexie::TransactionMode::ReadWrite)
        .unwrap();
    let garbage = serde_wasm_bindgen::to_value(&json!({
        "collection": "notes", "id": "bad", "value": 1, "hlc": "garbage"
    }))
    .unwrap();
    // json!({..}) becomes a JS Map with the default serializer; store a plain object.
    let garbage = js_sys::Object::from_entries(&garbage).unwrap();
    tx.store("records")
        .unwrap()
        .put(&garbage, None)
        .await
        .unwrap();
    tx.done().await.unwrap();
    raw.close();

    let store = Store::open(name).await.unwrap();
    let err = store
        .get(&RecordKey::new("notes", "bad"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { ref id, .. } if id == "bad"),
        "{err:?}"
    );
}
