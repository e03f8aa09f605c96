//! Blobs (note images) in a real browser: stored as Blob objects, bytes and type kept.
#![cfg(target_arch = "wasm32")]

use cairn_client::Store;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Blob, BlobPropertyBag};

wasm_bindgen_test_configure!(run_in_browser);

/// The bytes of a tiny PNG's signature and then some, as an `image/png` Blob.
const BYTES: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 254, 255,
];

fn png_blob() -> Blob {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(BYTES).into());
    let options = BlobPropertyBag::new();
    options.set_type("image/png");
    Blob::new_with_u8_array_sequence_and_options(&parts, &options).unwrap()
}

async fn bytes_of(blob: &Blob) -> Vec<u8> {
    let buffer = JsFuture::from(blob.array_buffer()).await.unwrap();
    js_sys::Uint8Array::new(&buffer).to_vec()
}

async fn round_trip(store: &Store) {
    let stored = store
        .put_blob("img-1", "dot.png", &png_blob())
        .await
        .unwrap();
    assert_eq!(
        (stored.mime.as_str(), stored.size),
        ("image/png", BYTES.len() as f64)
    );

    let got = store.get_blob("img-1").await.unwrap().expect("stored");
    assert_eq!(got.id, "img-1");
    assert_eq!(got.name, "dot.png");
    assert_eq!(got.mime, "image/png");
    assert_eq!(got.size, BYTES.len() as f64);
    assert_eq!(got.blob.type_(), "image/png");
    assert_eq!(bytes_of(&got.blob).await, BYTES);
    assert_eq!(store.blob_ids().await.unwrap(), vec!["img-1".to_string()]);

    assert_eq!(store.get_blob("other").await.unwrap(), None);
    store.delete_blob("img-1").await.unwrap();
    assert_eq!(store.get_blob("img-1").await.unwrap(), None);
    assert!(store.blob_ids().await.unwrap().is_empty());
    // Deleting what is not there is fine.
    store.delete_blob("img-1").await.unwrap();
}

#[wasm_bindgen_test]
async fn blobs_round_trip_in_indexeddb() {
    let name = "test-blobs";
    Store::delete_database(name).await.unwrap();
    let store = Store::open(name).await.unwrap();
    round_trip(&store).await;

    // Kept across a reopen, as a real Blob.
    store
        .put_blob("kept", "kept.png", &png_blob())
        .await
        .unwrap();
    drop(store);
    let store = Store::open(name).await.unwrap();
    let kept = store.get_blob("kept").await.unwrap().expect("kept");
    assert!(JsValue::from(kept.blob.clone()).is_instance_of::<Blob>());
    assert_eq!(bytes_of(&kept.blob).await, BYTES);
}

#[wasm_bindgen_test]
async fn blobs_round_trip_in_memory() {
    round_trip(&Store::memory("test").unwrap()).await;
}

#[wasm_bindgen_test]
fn random_ids_are_16_hex_digits_and_differ() {
    let (a, b) = (
        cairn_client::random_id().unwrap(),
        cairn_client::random_id().unwrap(),
    );
    assert_eq!(a.len(), 16);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}
