//! The store in a real browser (headless Chromium via wasm-bindgen-test).
#![cfg(target_arch = "wasm32")]

use cairn_client::schema::{DATA_VERSION, DB_VERSION};
use cairn_client::{Durability, Store, StoreError};
use cairn_protocol::{DeviceId, Hlc, Record};
use rexie::{ObjectStore, Rexie};
use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{fresh, key, put_raw};

#[wasm_bindgen_test]
async fn put_then_get_returns_the_same_record() {
    let store = fresh("test-put-get").await;
    let hlc = Hlc::new(42, 0, DeviceId::new("dev1").unwrap()).unwrap();
    let record = Record::new(
        key("notes", "n1"),
        json!({"title": "hello", "tags": ["a"]}),
        hlc,
    );

    store.put(&record).await.unwrap();

    assert_eq!(store.get(&key("notes", "n1")).await.unwrap(), Some(record));
    assert_eq!(store.get(&key("notes", "missing")).await.unwrap(), None);
    assert_eq!(store.durability(), Durability::Persistent);
    assert!(
        store.outbox().await.unwrap().is_empty(),
        "put does not queue"
    );
}

#[wasm_bindgen_test]
async fn same_id_in_two_collections_are_two_records() {
    let store = fresh("test-collections").await;
    store.write(key("a", "x"), json!(1)).await.unwrap();
    store.write(key("b", "x"), json!(2)).await.unwrap();
    assert_eq!(
        store.get(&key("a", "x")).await.unwrap().unwrap().value,
        json!(1)
    );
    assert_eq!(
        store.get(&key("b", "x")).await.unwrap().unwrap().value,
        json!(2)
    );
    let a = store.load_collection("a").await.unwrap();
    assert_eq!(a.records.len(), 1);
    assert_eq!(a.records[0].value, json!(1));
}

#[wasm_bindgen_test]
async fn writes_are_stamped_with_increasing_clocks_that_survive_reopening() {
    let name = "test-clock";
    let store = fresh(name).await;
    let first = store.write(key("n", "1"), json!("a")).await.unwrap();
    let second = store.write(key("n", "1"), json!("b")).await.unwrap();
    assert!(second.hlc > first.hlc);
    assert!(store.is_own_clock(&first.hlc));
    let device = store.device_id();
    drop(store);

    let reopened = Store::open(name).await.unwrap();
    assert_eq!(reopened.device_id(), device, "device id is stable");
    let third = reopened.write(key("n", "1"), json!("c")).await.unwrap();
    assert!(third.hlc > second.hlc, "clock resumes after its last value");
    assert_eq!(
        reopened.get(&key("n", "1")).await.unwrap().unwrap().value,
        json!("c")
    );
}

#[wasm_bindgen_test]
async fn every_write_is_queued_and_repeated_writes_coalesce() {
    let store = fresh("test-outbox").await;
    for text in ["h", "he", "hel", "hell", "hello"] {
        store.write(key("notes", "n1"), json!(text)).await.unwrap();
    }
    let last = store
        .write(key("notes", "n2"), json!("other"))
        .await
        .unwrap();
    let outbox = store.outbox().await.unwrap();
    assert_eq!(outbox.len(), 2, "one entry per record: {outbox:?}");
    let n1 = store.get(&key("notes", "n1")).await.unwrap().unwrap();
    assert_eq!(n1.value, json!("hello"));
    assert_eq!(outbox[0].hlc, n1.hlc, "the entry is the latest change");
    assert_eq!(outbox[1].hlc, last.hlc);
}

#[wasm_bindgen_test]
async fn delete_leaves_a_queued_tombstone() {
    let store = fresh("test-delete").await;
    store.write(key("notes", "n1"), json!("x")).await.unwrap();
    let tombstone = store.delete(key("notes", "n1")).await.unwrap();
    let stored = store.get(&key("notes", "n1")).await.unwrap().unwrap();
    assert!(stored.deleted);
    assert_eq!(stored.value, json!(null));
    assert_eq!(store.outbox().await.unwrap()[0].hlc, tombstone.hlc);
}

#[wasm_bindgen_test]
async fn a_version_1_database_is_migrated_with_its_data() {
    let name = "test-migrate-v1";
    Store::delete_database(name).await.unwrap();
    // The schema as version 1 of the app created it, with a record and a device.
    let v1 = Rexie::builder(name)
        .version(1)
        .add_object_store(ObjectStore::new("records").key_path_array(["collection", "id"]))
        .add_object_store(ObjectStore::new("meta"))
        .build()
        .await
        .unwrap();
    v1.close();
    let old = json!({"collection": "notes", "id": "old", "value": "kept",
                     "hlc": "000000000064-00000000-abc", "deleted": false});
    put_raw(name, "records", &[(None, old)]).await;
    put_raw(name, "meta", &[(Some("device_id"), json!("abc"))]).await;

    let store = Store::open(name).await.unwrap();
    assert_eq!(store.device_id().as_str(), "abc");
    assert_eq!(
        store
            .get(&key("notes", "old"))
            .await
            .unwrap()
            .unwrap()
            .value,
        json!("kept")
    );
    let outbox = store.outbox().await.unwrap();
    assert_eq!(
        outbox.len(),
        1,
        "records from version 1 are queued for sync"
    );
    assert_eq!(outbox[0].hlc.to_string(), "000000000064-00000000-abc");
    drop(store);

    // Opening again runs nothing twice.
    let again = Store::open(name).await.unwrap();
    assert_eq!(again.outbox().await.unwrap().len(), 1);
    let db = Rexie::builder(name).build().await.unwrap();
    assert_eq!(db.version().unwrap(), DB_VERSION);
    db.close();
}

#[wasm_bindgen_test]
async fn a_database_from_a_newer_app_is_refused_and_left_alone() {
    let name = "test-newer-db";
    Store::delete_database(name).await.unwrap();
    let newer = Rexie::builder(name)
        .version(DB_VERSION + 1)
        .add_object_store(ObjectStore::new("future"))
        .build()
        .await
        .unwrap();
    newer.close();

    let err = Store::open(name).await.err().expect("refused");
    assert_eq!(
        err,
        StoreError::NewerSchema {
            found: DB_VERSION + 1,
            supported: DB_VERSION
        }
    );
    let db = Rexie::builder(name).build().await.unwrap();
    assert_eq!(db.version().unwrap(), DB_VERSION + 1);
    assert_eq!(
        db.store_names(),
        vec!["future".to_string()],
        "nothing rewritten"
    );
    db.close();

    // Not hidden behind an empty memory store either.
    assert!(Store::open_or_memory(name, || {}).await.is_err());
}

#[wasm_bindgen_test]
async fn data_from_a_newer_app_is_refused() {
    let name = "test-newer-data";
    fresh(name).await;
    put_raw(
        name,
        "meta",
        &[(Some("data_version"), json!(DATA_VERSION + 1))],
    )
    .await;
    let err = Store::open(name).await.err().expect("refused");
    assert_eq!(
        err,
        StoreError::NewerSchema {
            found: DATA_VERSION + 1,
            supported: DATA_VERSION
        }
    );
}

#[wasm_bindgen_test]
async fn a_corrupt_record_is_quarantined_and_the_rest_load() {
    let name = "test-corrupt";
    let store = fresh(name).await;
    store.write(key("notes", "a"), json!("fine")).await.unwrap();
    store
        .write(key("notes", "c"), json!("also fine"))
        .await
        .unwrap();
    let bad = json!({"collection": "notes", "id": "b", "value": 1, "hlc": "garbage"});
    put_raw(name, "records", &[(None, bad)]).await;

    let err = store.get(&key("notes", "b")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { ref id, .. } if id == "b"),
        "{err:?}"
    );

    let loaded = store.load_collection("notes").await.unwrap();
    let ids: Vec<_> = loaded.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    assert_eq!(loaded.quarantined.len(), 1);
    assert_eq!(loaded.quarantined[0].id, "b");
    assert!(
        loaded.quarantined[0].reason.contains("clock"),
        "{:?}",
        loaded.quarantined[0]
    );

    // Moved, not lost: the raw row is in the quarantine, and records load clean now.
    assert_eq!(store.quarantined().await.unwrap(), loaded.quarantined);
    assert_eq!(store.get(&key("notes", "b")).await.unwrap(), None);
    assert!(store
        .load_collection("notes")
        .await
        .unwrap()
        .quarantined
        .is_empty());
}

#[wasm_bindgen_test]
async fn another_connection_hears_committed_changes() {
    let name = "test-broadcast";
    let writer = fresh(name).await;
    let reader = Store::open(name).await.unwrap();
    let (tx, rx) = futures_channel::oneshot::channel();
    let mut tx = Some(tx);
    let _subscription = reader
        .subscribe(move |changed| {
            if let Some(tx) = tx.take() {
                let _ = tx.send(changed);
            }
        })
        .expect("BroadcastChannel exists in Chromium");

    writer
        .write(key("prefs", "theme"), json!("dark"))
        .await
        .unwrap();

    let changed = rx.await.unwrap();
    assert_eq!(changed, key("prefs", "theme"));
    assert_eq!(
        reader.get(&changed).await.unwrap().unwrap().value,
        json!("dark")
    );
}

#[wasm_bindgen_test]
async fn write_many_stores_and_queues_every_change_in_order() {
    let store = fresh("test-write-many").await;
    let before = store.write(key("notes", "first"), json!(0)).await.unwrap();
    let changes = (0..500)
        .map(|i| (key("notes", &format!("n{i:03}")), json!({"n": i})))
        .collect();
    let written = store.write_many(changes).await.unwrap();

    assert_eq!(written.len(), 500);
    assert!(
        written.windows(2).all(|w| w[0].hlc < w[1].hlc),
        "clocks increase"
    );
    assert!(written[0].hlc > before.hlc);
    let loaded = store.load_collection("notes").await.unwrap();
    assert_eq!(loaded.records.len(), 501);
    assert_eq!(loaded.records[1].value, json!({"n": 0}));
    assert_eq!(store.outbox().await.unwrap().len(), 501);
    assert!(store.write_many(Vec::new()).await.unwrap().is_empty());
    // The clock was stored with the batch: a reopened store continues after it.
    drop(store);
    let reopened = Store::open("test-write-many").await.unwrap();
    let next = reopened
        .write(key("notes", "after"), json!(1))
        .await
        .unwrap();
    assert!(next.hlc > written[499].hlc);
}

#[wasm_bindgen_test]
async fn a_dropped_store_lets_the_database_be_deleted() {
    let name = "test-drop-closes";
    let store = fresh(name).await;
    store.write(key("notes", "n"), json!(1)).await.unwrap();
    drop(store);
    // Would wait forever on an open connection.
    Store::delete_database(name).await.unwrap();
    let reopened = Store::open(name).await.unwrap();
    assert_eq!(reopened.get(&key("notes", "n")).await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn an_upgrade_blocked_by_an_older_tab_is_reported_and_waits_for_it() {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    let name = "test-blocked";
    Store::delete_database(name).await.unwrap();
    Rexie::builder(name)
        .version(1)
        .add_object_store(ObjectStore::new("records").key_path_array(["collection", "id"]))
        .add_object_store(ObjectStore::new("meta"))
        .build()
        .await
        .unwrap()
        .close();
    // A tab of an older app: version 1 open, and it ignores versionchange.
    let factory = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
    let request = factory.open_with_u32(name, 1).unwrap();
    let (opened_tx, opened_rx) = futures_channel::oneshot::channel::<()>();
    let on_success = Closure::once(move || {
        let _ = opened_tx.send(());
    });
    request.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
    opened_rx.await.unwrap();
    let old_tab: web_sys::IdbDatabase = request.result().unwrap().unchecked_into();

    let (blocked_tx, blocked_rx) = futures_channel::oneshot::channel::<()>();
    let (done_tx, done_rx) = futures_channel::oneshot::channel();
    wasm_bindgen_futures::spawn_local(async move {
        let opened = Store::open_reporting_blocked(name, move || {
            let _ = blocked_tx.send(());
        })
        .await;
        let _ = done_tx.send(opened.map(|store| store.durability()));
    });

    blocked_rx.await.expect("the wait is reported");
    old_tab.close();
    assert_eq!(
        done_rx.await.unwrap(),
        Ok(Durability::Persistent),
        "then it opens"
    );
}
