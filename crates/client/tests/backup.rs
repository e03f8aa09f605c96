//! Export, import and clearing through the store, in a real browser.
#![cfg(target_arch = "wasm32")]

use std::collections::BTreeMap;

use cairn_client::backup::BATCH;
use cairn_client::Store;
use cairn_protocol::backup::{self, FileFormat, ImportMode};
use cairn_protocol::{DeviceId, Hlc, Record, RecordKey};
use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{fresh, key};

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// Every outbox entry names a stored record with the same clock.
async fn assert_outbox_consistent(store: &Store) {
    let records: BTreeMap<RecordKey, Record> = store
        .all_records()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key(), r))
        .collect();
    for entry in store.outbox().await.unwrap() {
        let k = key(&entry.collection, &entry.id);
        let record = records
            .get(&k)
            .unwrap_or_else(|| panic!("outbox names missing {k:?}"));
        assert_eq!(
            record.hlc, entry.hlc,
            "outbox entry of {k:?} has another clock"
        );
    }
}

#[wasm_bindgen_test]
async fn export_then_merge_import_into_an_empty_store_reproduces_every_record() {
    let a = fresh("test-backup-a").await;
    a.write(key("notes", "n1"), json!({"title": "hi", "n": 1.25}))
        .await
        .unwrap();
    a.write(key("prefs", "theme"), json!("dark")).await.unwrap();
    a.write(key("notes", "gone"), json!("x")).await.unwrap();
    a.delete(key("notes", "gone")).await.unwrap();

    for format in [FileFormat::Json, FileFormat::Yaml] {
        let text = a
            .export(None, "test")
            .await
            .unwrap()
            .to_text(format)
            .unwrap();
        let b = fresh("test-backup-b").await;
        let validated = backup::parse(&text, now()).unwrap();
        let plan = b.plan_import(&validated, ImportMode::Merge).await.unwrap();
        assert_eq!((plan.counts.add, plan.counts.update), (2, 0));
        let summary = b.import(&plan, |_, _| {}).await.unwrap();
        assert_eq!(summary.written, 3, "the tombstone is kept too");

        assert_eq!(
            b.all_records().await.unwrap(),
            a.all_records().await.unwrap()
        );
        // Queued for sync, with the records' own clocks.
        assert_eq!(b.outbox().await.unwrap().len(), 3);
        assert_outbox_consistent(&b).await;
        // The clock moved past the imported records: a new change orders after them.
        let newest = a
            .all_records()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.hlc)
            .max()
            .unwrap();
        let next = b.write(key("notes", "later"), json!(1)).await.unwrap();
        assert!(next.hlc > newest);
        // Importing again changes nothing.
        let again = b.plan_import(&validated, ImportMode::Merge).await.unwrap();
        assert_eq!(again.write_count(), 0);
    }
}

#[wasm_bindgen_test]
async fn chosen_collections_only() {
    let a = fresh("test-backup-some").await;
    a.write(key("notes", "n1"), json!(1)).await.unwrap();
    a.write(key("prefs", "p"), json!(2)).await.unwrap();
    let backup = a.export(Some(&["prefs".to_owned()]), "t").await.unwrap();
    assert_eq!(backup.collections, ["prefs"]);
    assert_eq!(backup.records.len(), 1);
    assert_eq!(backup.records[0].key(), key("prefs", "p"));
}

#[wasm_bindgen_test]
async fn merge_keeps_newer_local_data_and_logs_a_losing_unsynced_change() {
    let store = fresh("test-backup-merge").await;
    let device = DeviceId::new("other").unwrap();
    let old = Hlc::new(1_000, 0, device.clone()).unwrap();
    let future_ish = Hlc::new(now() + 60_000, 0, device).unwrap();
    // Local: "newer" written now; "pending" written now but the file's is later.
    store
        .write(key("notes", "newer"), json!("local"))
        .await
        .unwrap();
    store
        .write(key("notes", "pending"), json!("local draft"))
        .await
        .unwrap();
    let file = backup::Backup::new(
        "t",
        now(),
        "other",
        vec![],
        vec![
            Record::new(key("notes", "newer"), json!("from file"), old),
            Record::new(
                key("notes", "pending"),
                json!("from file"),
                future_ish.clone(),
            ),
        ],
    );
    let validated = backup::parse(&file.to_text(FileFormat::Json).unwrap(), now()).unwrap();
    let plan = store
        .plan_import(&validated, ImportMode::Merge)
        .await
        .unwrap();
    assert_eq!(
        (plan.counts.older, plan.counts.update, plan.counts.conflicts),
        (1, 1, 1)
    );
    let summary = store.import(&plan, |_, _| {}).await.unwrap();
    assert_eq!((summary.written, summary.conflicts), (1, 1));

    let get = |id: &'static str| {
        let store = &store;
        async move { store.get(&key("notes", id)).await.unwrap().unwrap() }
    };
    assert_eq!(get("newer").await.value, json!("local"));
    assert_eq!(get("pending").await.value, json!("from file"));
    assert_eq!(
        get("pending").await.hlc,
        future_ish,
        "merge keeps the file's clock"
    );
    let conflicts = store.conflicts().await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].conflict.loser.value, json!("local draft"));
    assert_outbox_consistent(&store).await;
}

#[wasm_bindgen_test]
async fn replace_deletes_what_the_file_lacks_as_synced_tombstones() {
    let store = fresh("test-backup-replace").await;
    store
        .write(key("notes", "keep"), json!("old value"))
        .await
        .unwrap();
    store
        .write(key("notes", "extra"), json!("not in file"))
        .await
        .unwrap();
    store
        .write(key("prefs", "p"), json!("other collection"))
        .await
        .unwrap();
    let file = backup::Backup::new(
        "t",
        now(),
        "x",
        vec!["notes".to_owned()],
        vec![Record::new(
            key("notes", "keep"),
            json!("file value"),
            Hlc::new(5, 0, DeviceId::new("x").unwrap()).unwrap(),
        )],
    );
    let validated = backup::parse(&file.to_text(FileFormat::Yaml).unwrap(), now()).unwrap();
    let plan = store
        .plan_import(&validated, ImportMode::Replace)
        .await
        .unwrap();
    assert_eq!((plan.counts.update, plan.counts.delete), (1, 1));
    store.import(&plan, |_, _| {}).await.unwrap();

    let keep = store.get(&key("notes", "keep")).await.unwrap().unwrap();
    assert_eq!(keep.value, json!("file value"));
    assert!(
        keep.hlc.wall_ms() > 5,
        "written as a new change, so it wins when synced"
    );
    assert!(
        store
            .get(&key("notes", "extra"))
            .await
            .unwrap()
            .unwrap()
            .deleted
    );
    assert_eq!(
        store.get(&key("prefs", "p")).await.unwrap().unwrap().value,
        json!("other collection")
    );
    assert_outbox_consistent(&store).await;
}

#[wasm_bindgen_test]
async fn a_file_with_an_invalid_record_changes_nothing() {
    let store = fresh("test-backup-invalid").await;
    store.write(key("notes", "n"), json!("mine")).await.unwrap();
    let before = store.all_records().await.unwrap();
    let mut doc: serde_json::Value = serde_json::to_value(backup::Backup::new(
        "t",
        now(),
        "x",
        vec![],
        vec![
            Record::new(
                key("notes", "n"),
                json!("theirs"),
                Hlc::new(now(), 9, DeviceId::new("x").unwrap()).unwrap(),
            ),
            Record::new(
                key("notes", "m"),
                json!("new"),
                Hlc::new(1, 0, DeviceId::new("x").unwrap()).unwrap(),
            ),
        ],
    ))
    .unwrap();
    doc["records"][1]["collection"] = json!("Not Valid");
    let validated = backup::parse(&doc.to_string(), now()).unwrap();
    assert_eq!(validated.rejected.len(), 1);
    for mode in [ImportMode::Merge, ImportMode::Replace] {
        let plan = store.plan_import(&validated, mode).await.unwrap();
        assert!(!plan.can_apply());
        assert!(store.import(&plan, |_, _| {}).await.is_err());
    }
    assert_eq!(store.all_records().await.unwrap(), before);
}

#[wasm_bindgen_test]
async fn a_large_import_reports_progress_between_batches() {
    let store = fresh("test-backup-progress").await;
    let device = DeviceId::new("x").unwrap();
    let n = BATCH * 3 + 7;
    let records = (0..n)
        .map(|i| {
            Record::new(
                key("notes", &format!("n{i:05}")),
                json!({"i": i}),
                Hlc::new(1_000 + i as u64, 0, device.clone()).unwrap(),
            )
        })
        .collect();
    let file = backup::Backup::new("t", now(), "x", vec![], records);
    let validated = backup::parse(&file.to_text(FileFormat::Json).unwrap(), now()).unwrap();
    let plan = store
        .plan_import(&validated, ImportMode::Merge)
        .await
        .unwrap();
    let mut seen = Vec::new();
    store
        .import(&plan, |done, total| seen.push((done, total)))
        .await
        .unwrap();
    assert_eq!(seen.first(), Some(&(0, n)));
    assert_eq!(seen.last(), Some(&(n, n)));
    assert_eq!(seen.len(), 1 + 4, "one report per batch");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(store.all_records().await.unwrap().len(), n);
}

#[wasm_bindgen_test]
async fn clearing_a_collection_writes_queued_tombstones_and_keeps_the_outbox_consistent() {
    let store = fresh("test-backup-clear").await;
    for i in 0..5 {
        store
            .write(key("notes", &format!("n{i}")), json!(i))
            .await
            .unwrap();
    }
    store
        .write(key("prefs", "theme"), json!("dark"))
        .await
        .unwrap();
    // Pretend n0 and prefs were synced already: only part of the data is pending.
    let synced: Vec<Record> = vec![
        store.get(&key("notes", "n0")).await.unwrap().unwrap(),
        store.get(&key("prefs", "theme")).await.unwrap().unwrap(),
    ];
    store.acknowledge_push(&synced, &[]).await.unwrap();
    assert_eq!(store.outbox().await.unwrap().len(), 4);

    let cleared = store
        .clear_collections(&["notes".to_owned()])
        .await
        .unwrap();
    assert_eq!(cleared.len(), 5);
    let notes = store.load_collection("notes").await.unwrap().records;
    assert!(notes.iter().all(|r| r.deleted && r.value.is_null()));
    assert_eq!(
        store
            .get(&key("prefs", "theme"))
            .await
            .unwrap()
            .unwrap()
            .value,
        json!("dark")
    );
    // One entry per cleared record (the deletions sync), none for prefs.
    let outbox = store.outbox().await.unwrap();
    assert_eq!(outbox.len(), 5);
    assert!(outbox.iter().all(|e| e.collection == "notes"));
    assert_outbox_consistent(&store).await;
    // Clearing again does nothing.
    assert!(store
        .clear_collections(&["notes".to_owned()])
        .await
        .unwrap()
        .is_empty());
    let usage = store.usage().await.unwrap();
    let notes_usage = usage
        .collections
        .iter()
        .find(|c| c.collection == "notes")
        .unwrap();
    assert_eq!((notes_usage.records, notes_usage.deleted), (0, 5));
    assert_eq!(usage.total_records, 1);
}

#[wasm_bindgen_test]
async fn the_memory_store_imports_and_clears_too() {
    let store = Store::memory("test").unwrap();
    store.write(key("notes", "a"), json!(1)).await.unwrap();
    let text = store
        .export(None, "t")
        .await
        .unwrap()
        .to_text(FileFormat::Json)
        .unwrap();
    let other = Store::memory("test").unwrap();
    let validated = backup::parse(&text, now()).unwrap();
    let plan = other
        .plan_import(&validated, ImportMode::Merge)
        .await
        .unwrap();
    other.import(&plan, |_, _| {}).await.unwrap();
    assert_eq!(
        other.all_records().await.unwrap(),
        store.all_records().await.unwrap()
    );
    other
        .clear_collections(&["notes".to_owned()])
        .await
        .unwrap();
    assert!(
        other
            .get(&key("notes", "a"))
            .await
            .unwrap()
            .unwrap()
            .deleted
    );
    assert_outbox_consistent(&other).await;
}
