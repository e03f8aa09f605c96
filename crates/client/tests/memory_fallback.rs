//! Without IndexedDB the store runs in memory. Its own test binary (its own page): it
//! hides `indexedDB` from the page, which would break tests running beside it.
#![cfg(target_arch = "wasm32")]

use cairn_client::{Durability, Store, StoreError};
use serde_json::json;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::key;

#[wasm_bindgen_test]
async fn without_indexeddb_the_store_falls_back_to_memory() {
    let window = js_sys::global();
    let hide = js_sys::Object::new();
    js_sys::Reflect::set(&hide, &"value".into(), &JsValue::UNDEFINED).unwrap();
    js_sys::Reflect::set(&hide, &"configurable".into(), &JsValue::TRUE).unwrap();
    js_sys::Object::define_property(&window.clone().into(), &"indexedDB".into(), &hide);

    let result = Store::open("test-memory").await;
    let fallback = Store::open_or_memory("test-memory", || {}).await;
    js_sys::Reflect::delete_property(&window.into(), &"indexedDB".into()).unwrap();

    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{:?}",
        result.err()
    );
    let store = fallback.unwrap();
    assert!(matches!(store.durability(), Durability::MemoryOnly { .. }));
    store
        .write(key("notes", "n"), json!("in memory"))
        .await
        .unwrap();
    assert_eq!(
        store.get(&key("notes", "n")).await.unwrap().unwrap().value,
        json!("in memory")
    );
    assert_eq!(store.outbox().await.unwrap().len(), 1);
    assert_eq!(
        store.load_collection("notes").await.unwrap().records.len(),
        1
    );
}
