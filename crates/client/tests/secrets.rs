//! Secrets in a real browser: encrypted at rest with the device key, never synced, and
//! carried by backups only under a passphrase.
#![cfg(target_arch = "wasm32")]

use cairn_client::secrets::{decrypt_from_backup, encrypt_for_backup};
use cairn_client::{SecretError, Store};
use cairn_protocol::backup::SecretEntry;
use rexie::{Rexie, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::fresh;

/// Every row of object store `store` of database `name`, as stored.
async fn raw_rows(name: &str, store: &str) -> Vec<JsValue> {
    let db = Rexie::builder(name).build().await.unwrap();
    let tx = db.transaction(&[store], TransactionMode::ReadOnly).unwrap();
    let rows = tx.store(store).unwrap().get_all(None, None).await.unwrap();
    db.close();
    rows
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[wasm_bindgen_test]
async fn a_secret_round_trips_and_is_not_stored_in_plaintext() {
    const PLAIN: &str = "sk-live-very-secret-0123456789";
    let store = fresh("test-secrets-round-trip").await;
    assert_eq!(store.secret("api-key").await.unwrap(), None);

    store.put_secret("api-key", PLAIN).await.unwrap();
    store.put_secret("other", "second").await.unwrap();
    assert_eq!(
        store.secret("api-key").await.unwrap().as_deref(),
        Some(PLAIN)
    );
    assert_eq!(store.secret_names().await.unwrap(), ["api-key", "other"]);

    // The stored row: name, IV and ciphertext; nothing of the plaintext anywhere.
    let rows = raw_rows(store.name(), "secrets").await;
    assert_eq!(rows.len(), 2);
    let row = rows
        .iter()
        .find(|r| js_sys::Reflect::get(r, &"name".into()).unwrap() == "api-key")
        .unwrap();
    let bytes = |f: &str| {
        js_sys::Reflect::get(row, &f.into())
            .unwrap()
            .dyn_into::<js_sys::Uint8Array>()
            .unwrap()
            .to_vec()
    };
    let (iv, ciphertext) = (bytes("iv"), bytes("ciphertext"));
    assert_eq!(iv.len(), 12);
    assert_eq!(
        ciphertext.len(),
        PLAIN.len() + 16,
        "AES-GCM: same length plus the tag"
    );
    assert!(!contains(&ciphertext, PLAIN.as_bytes()));
    assert!(!contains(&ciphertext, &PLAIN.as_bytes()[..8]));
    let text = js_sys::JSON::stringify(row).unwrap().as_string().unwrap();
    assert!(!text.contains(PLAIN) && !text.contains("sk-live"), "{text}");

    // The device key is a CryptoKey that script cannot export.
    let keys = raw_rows(store.name(), "keys").await;
    assert_eq!(keys.len(), 1);
    let key: web_sys::CryptoKey = keys[0].clone().dyn_into().unwrap();
    assert!(!key.extractable());

    // Never in records or the outbox, so never synced.
    assert!(store.all_records().await.unwrap().is_empty());
    assert!(store.outbox().await.unwrap().is_empty());

    // Replacing, reopening (the key is the stored one), deleting.
    store.put_secret("api-key", "rotated").await.unwrap();
    drop(store);
    let store = Store::open("test-secrets-round-trip").await.unwrap();
    assert_eq!(
        store.secret("api-key").await.unwrap().as_deref(),
        Some("rotated")
    );
    store.delete_secret("api-key").await.unwrap();
    assert_eq!(store.secret("api-key").await.unwrap(), None);
    assert_eq!(store.secret_names().await.unwrap(), ["other"]);
}

#[wasm_bindgen_test]
async fn a_row_moved_to_another_name_does_not_decrypt() {
    let store = fresh("test-secrets-swap").await;
    store.put_secret("a", "alpha").await.unwrap();
    let mut row = raw_rows(store.name(), "secrets").await.remove(0);
    js_sys::Reflect::set(&row, &"name".into(), &"b".into()).unwrap();
    let db = Rexie::builder(store.name()).build().await.unwrap();
    let tx = db
        .transaction(&["secrets"], TransactionMode::ReadWrite)
        .unwrap();
    tx.store("secrets")
        .unwrap()
        .put(&mut row, None)
        .await
        .unwrap();
    tx.done().await.unwrap();
    db.close();
    assert!(matches!(
        store.secret("b").await,
        Err(SecretError::Crypto(_))
    ));
}

#[wasm_bindgen_test]
async fn backups_carry_secrets_only_under_the_right_passphrase() {
    let store = fresh("test-secrets-backup").await;
    store.put_secret("api-key", "k1").await.unwrap();
    store.put_secret("token", "t2").await.unwrap();
    let encrypted = store.export_secrets("correct horse").await.unwrap();
    assert_eq!(encrypted.count, 2);
    assert!(encrypted.iterations >= 200_000);
    assert!(!encrypted.ciphertext.contains("k1"));

    let entries = decrypt_from_backup(&encrypted, "correct horse")
        .await
        .unwrap();
    assert_eq!(
        entries,
        [
            SecretEntry {
                name: "api-key".into(),
                value: "k1".into()
            },
            SecretEntry {
                name: "token".into(),
                value: "t2".into()
            },
        ]
    );
    assert_eq!(
        decrypt_from_backup(&encrypted, "wrong horse").await,
        Err(SecretError::WrongPassphrase)
    );

    // Restored on another device (another database, another device key).
    let other = fresh("test-secrets-backup-2").await;
    other.restore_secrets(&entries).await.unwrap();
    assert_eq!(other.secret("token").await.unwrap().as_deref(), Some("t2"));

    // Salt and IV are random: two exports differ.
    let again = encrypt_for_backup("correct horse", &entries).await.unwrap();
    assert_ne!(again.salt, encrypted.salt);
    assert_ne!(again.iv, encrypted.iv);
}

#[wasm_bindgen_test]
async fn a_memory_store_keeps_no_secrets() {
    let store = Store::memory("test").unwrap();
    assert!(matches!(
        store.put_secret("a", "b").await,
        Err(SecretError::Unavailable(_))
    ));
    assert!(store.secret_names().await.unwrap().is_empty());
}
