//! Export, import and clearing through the store, in a real browser.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;

use cairn_client::backup::{BlobSource, BlobsImported, BATCH};
use cairn_client::{Store, StoredBlob};
use cairn_protocol::backup::{self, sha256_hex, FileFormat, ImportMode};
use cairn_protocol::{DeviceId, Hlc, Record, RecordKey};
use serde_json::json;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Blob, BlobPropertyBag};

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

/// A `Blob` of `bytes` with the MIME type `mime`.
fn blob_of(bytes: &[u8], mime: &str) -> Blob {
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    Blob::new_with_u8_array_sequence_and_options(&parts, &options).unwrap()
}

async fn bytes_of(blob: &Blob) -> Vec<u8> {
    let buffer = JsFuture::from(blob.array_buffer()).await.unwrap();
    js_sys::Uint8Array::new(&buffer).to_vec()
}

/// Adds an image to `store` as the app does, returning its hash.
async fn add_image(store: &Store, name: &str, mime: &str, bytes: &[u8]) -> String {
    let stored = store.put_blob(name, &blob_of(bytes, mime)).await.unwrap();
    assert_eq!(stored.id, sha256_hex(bytes));
    stored.id
}

/// A note naming the images `hashes`.
fn note_with(hashes: &[&str]) -> serde_json::Value {
    let images: Vec<_> = hashes.iter().map(|h| json!({"id": h})).collect();
    json!({"title": "trip", "images": images, "blobs": hashes})
}

/// A stand-in for the server: it holds `blobs`, and counts what it was asked.
struct FakeServer {
    blobs: Vec<(String, &'static str, Vec<u8>)>,
    asked: Cell<usize>,
}

impl BlobSource for FakeServer {
    fn fetch(&self, hash: &str) -> impl Future<Output = Result<StoredBlob, String>> {
        self.asked.set(self.asked.get() + 1);
        let found = self
            .blobs
            .iter()
            .find(|(h, _, _)| h == hash)
            .map(|(h, mime, bytes)| {
                let blob = blob_of(bytes, mime);
                StoredBlob {
                    id: h.clone(),
                    name: String::new(),
                    mime: mime.to_string(),
                    size: blob.size(),
                    blob,
                }
            });
        async move { found.ok_or_else(|| "not on the server".to_owned()) }
    }
}

const NO_SERVER: Option<&FakeServer> = None;

#[wasm_bindgen_test]
async fn images_travel_in_the_backup_with_their_bytes_and_type() {
    let a = fresh("test-backup-images-a").await;
    let png: Vec<u8> = (0..=255u8).cycle().take(5_000).collect();
    let h1 = add_image(&a, "photo.png", "image/png", &png).await;
    let h2 = add_image(&a, "scan.jpg", "image/jpeg", b"\xff\xd8 jpeg").await;
    // An image on the device that no exported record names stays out.
    add_image(&a, "unused.png", "image/png", b"unused").await;
    a.write(key("notes", "n1"), note_with(&[&h1, &h2]))
        .await
        .unwrap();
    a.write(key("notes", "n2"), note_with(&[&h2]))
        .await
        .unwrap();

    let mut progress = Vec::new();
    let exported = a
        .export_with_blobs(None, "test", NO_SERVER, |done, total| {
            progress.push((done, total))
        })
        .await
        .unwrap();
    assert!(exported.left_out.is_empty(), "{:?}", exported.left_out);
    assert_eq!(progress, vec![(0, 2), (1, 2), (2, 2)]);
    let hashes: Vec<_> = exported
        .backup
        .blobs
        .iter()
        .map(|b| b.hash.clone())
        .collect();
    assert_eq!(
        hashes,
        vec![h1.clone(), h2.clone()],
        "each once, in the order named"
    );
    // A snapshot's export carries none.
    assert!(a.export(None, "test").await.unwrap().blobs.is_empty());

    for format in [FileFormat::Json, FileFormat::Yaml] {
        let text = exported.backup.to_text(format).unwrap();
        let validated = backup::parse(&text, now()).unwrap();
        assert!(validated.rejected_blobs.is_empty());
        let b = fresh("test-backup-images-b").await;
        let plan = b.plan_import(&validated, ImportMode::Merge).await.unwrap();
        assert_eq!(
            plan.counts.blobs, 2,
            "the dry run says how many images come"
        );
        let mut seen = Vec::new();
        let stored = b
            .import_blobs(&plan, &validated.backup.blobs, |d, t| seen.push((d, t)))
            .await
            .unwrap();
        assert_eq!(
            stored,
            BlobsImported {
                stored: 2,
                present: 0
            }
        );
        assert_eq!(seen, vec![(0, 2), (1, 2), (2, 2)]);
        b.import(&plan, |_, _| {}).await.unwrap();

        for (hash, bytes, mime, name) in [
            (&h1, png.as_slice(), "image/png", "photo.png"),
            (&h2, b"\xff\xd8 jpeg".as_slice(), "image/jpeg", "scan.jpg"),
        ] {
            let got = b
                .get_blob(hash)
                .await
                .unwrap()
                .expect("the image is stored");
            assert_eq!(bytes_of(&got.blob).await, bytes, "{format:?}");
            assert_eq!((got.mime.as_str(), got.name.as_str()), (mime, name));
        }
        assert_eq!(
            b.blob_ids().await.unwrap().len(),
            2,
            "the unused image stayed out"
        );
        assert_eq!(
            b.all_records().await.unwrap(),
            a.all_records().await.unwrap()
        );
        // Importing again stores nothing twice.
        let again = b
            .import_blobs(&plan, &validated.backup.blobs, |_, _| {})
            .await
            .unwrap();
        assert_eq!(
            again,
            BlobsImported {
                stored: 0,
                present: 2
            }
        );
    }
}

#[wasm_bindgen_test]
async fn an_image_only_on_the_server_is_fetched_and_one_nowhere_is_reported() {
    let store = fresh("test-backup-images-server").await;
    let here = add_image(&store, "here.png", "image/png", b"on this device").await;
    let remote_bytes = b"only on the server".to_vec();
    let remote = sha256_hex(&remote_bytes);
    let nowhere = sha256_hex(b"lost");
    store
        .write(key("notes", "a"), note_with(&[&here, &remote]))
        .await
        .unwrap();
    store
        .write(key("notes", "b"), note_with(&[&nowhere]))
        .await
        .unwrap();
    // A deleted note names nothing.
    store
        .write(key("notes", "c"), note_with(&[&nowhere]))
        .await
        .unwrap();
    store.delete(key("notes", "c")).await.unwrap();
    let server = FakeServer {
        blobs: vec![(remote.clone(), "image/webp", remote_bytes.clone())],
        asked: Cell::new(0),
    };

    let exported = store
        .export_with_blobs(None, "t", Some(&server), |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        server.asked.get(),
        2,
        "only what this device lacks is asked for"
    );
    let got: Vec<_> = exported
        .backup
        .blobs
        .iter()
        .map(|b| (b.hash.clone(), b.mime.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (here.clone(), "image/png".to_owned()),
            (remote.clone(), "image/webp".to_owned())
        ]
    );
    assert_eq!(exported.backup.blobs[1].bytes().unwrap(), remote_bytes);
    assert_eq!(exported.left_out.len(), 1);
    let left = &exported.left_out[0];
    assert_eq!(
        (left.hash.as_str(), left.record.as_str()),
        (nowhere.as_str(), "notes/b")
    );
    assert!(left.to_string().contains("not on the server"), "{left}");

    // Signed out (no source): what is here is exported, the rest reported.
    let offline = store
        .export_with_blobs(None, "t", NO_SERVER, |_, _| {})
        .await
        .unwrap();
    assert_eq!(offline.backup.blobs.len(), 1);
    assert_eq!(offline.left_out.len(), 2);
    assert!(
        offline.left_out[0].reason.contains("sign in"),
        "{:?}",
        offline.left_out
    );

    // Only the chosen collections' images.
    store.write(key("prefs", "p"), json!(1)).await.unwrap();
    let prefs = store
        .export_with_blobs(Some(&["prefs".to_owned()]), "t", Some(&server), |_, _| {})
        .await
        .unwrap();
    assert!(prefs.backup.blobs.is_empty() && prefs.left_out.is_empty());
}

#[wasm_bindgen_test]
async fn a_file_with_an_invalid_record_stores_no_image() {
    let store = fresh("test-backup-images-invalid").await;
    let image = backup::BackupBlob::new("x.png", "image/png", b"bytes");
    let mut doc = serde_json::to_value(backup::Backup::new(
        "t",
        now(),
        "x",
        vec![],
        vec![Record::new(
            key("notes", "n"),
            note_with(&[&image.hash]),
            Hlc::new(1, 0, DeviceId::new("x").unwrap()).unwrap(),
        )],
    ))
    .unwrap();
    doc["records"][0]["collection"] = json!("Not Valid");
    doc["blobs"] = json!([image]);
    let validated = backup::parse(&doc.to_string(), now()).unwrap();
    let plan = store
        .plan_import(&validated, ImportMode::Merge)
        .await
        .unwrap();
    assert!(store
        .import_blobs(&plan, &validated.backup.blobs, |_, _| {})
        .await
        .is_err());
    assert!(store.blob_ids().await.unwrap().is_empty());
}
