//! Local snapshots in a real browser: take, list, restore, delete, keep the newest K.
#![cfg(target_arch = "wasm32")]

use cairn_client::Store;
use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{fresh, key};

#[wasm_bindgen_test]
async fn snapshots_are_listed_restored_and_deleted() {
    let store = fresh("test-snapshots").await;
    assert!(store.snapshots().await.unwrap().is_empty());
    store
        .write(key("notes", "n1"), json!("first"))
        .await
        .unwrap();
    store
        .write(key("prefs", "theme"), json!("dark"))
        .await
        .unwrap();
    let first = store.create_snapshot(false, 5, "t").await.unwrap();
    assert_eq!(first.records, 2);
    assert!(first.bytes > 0);

    // Later: n1 edited, theme deleted, a new collection appears.
    store
        .write(key("notes", "n1"), json!("edited"))
        .await
        .unwrap();
    store.delete(key("prefs", "theme")).await.unwrap();
    store.write(key("drafts", "d"), json!("new")).await.unwrap();
    let second = store.create_snapshot(true, 5, "t").await.unwrap();

    let list = store.snapshots().await.unwrap();
    assert_eq!(
        list.iter().map(|s| &s.id).collect::<Vec<_>>(),
        [&second.id, &first.id],
        "newest first"
    );
    assert!(list[0].automatic && !list[1].automatic);

    // Restore the first: everything as it was, as new (synced) changes.
    let plan = store.plan_snapshot_restore(&first.id).await.unwrap();
    assert!(plan.can_apply());
    assert_eq!(
        (plan.counts.add, plan.counts.update, plan.counts.delete),
        (1, 1, 1)
    );
    store.import(&plan, |_, _| {}).await.unwrap();
    assert_eq!(
        store.get(&key("notes", "n1")).await.unwrap().unwrap().value,
        json!("first")
    );
    assert_eq!(
        store
            .get(&key("prefs", "theme"))
            .await
            .unwrap()
            .unwrap()
            .value,
        json!("dark")
    );
    assert!(
        store
            .get(&key("drafts", "d"))
            .await
            .unwrap()
            .unwrap()
            .deleted
    );
    let outbox = store.outbox().await.unwrap();
    assert!(
        outbox.iter().any(|e| e.id == "d"),
        "the deletion is queued for sync"
    );

    store.delete_snapshot(&second.id).await.unwrap();
    let list = store.snapshots().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, first.id);
    assert!(store.snapshot_backup(&second.id).await.is_err());
}

#[wasm_bindgen_test]
async fn only_the_newest_k_are_kept() {
    let store = fresh("test-snapshots-keep").await;
    let mut ids = Vec::new();
    for i in 0..4 {
        store.write(key("notes", "n"), json!(i)).await.unwrap();
        ids.push(store.create_snapshot(true, 2, "t").await.unwrap().id);
    }
    let kept: Vec<String> = store
        .snapshots()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(kept, [ids[3].clone(), ids[2].clone()]);
    let newest = store.snapshot_backup(&ids[3]).await.unwrap();
    assert_eq!(newest.backup.records[0].value, json!(3));
}

#[wasm_bindgen_test]
async fn use_time_is_kept() {
    let store = fresh("test-snapshots-use").await;
    assert_eq!(store.snapshot_use_ms().await.unwrap(), 0);
    store.set_snapshot_use_ms(90_000).await.unwrap();
    drop(store);
    let store = Store::open("test-snapshots-use").await.unwrap();
    assert_eq!(store.snapshot_use_ms().await.unwrap(), 90_000);
}
