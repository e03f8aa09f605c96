//! Blobs (note images) in a real browser: named by the SHA-256 of their bytes, stored as
//! Blob objects with an upload mark written in the same transaction as the record that
//! names them; the upload phase of a sync round, against a stand-in for the server's
//! blob API installed as the page's `fetch` (the real server is covered end to end).
#![cfg(target_arch = "wasm32")]

use cairn_client::schema::DB_VERSION;
use cairn_client::{hash_blob, Released, Store, StoredBlob, SyncEngine, SyncError};
use cairn_protocol::RecordKey;
use rexie::{Index, ObjectStore, Rexie, TransactionMode};
use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Blob, BlobPropertyBag};

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{fresh, put_raw};

/// The bytes of a tiny PNG's signature and then some, as an `image/png` Blob.
const BYTES: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 254, 255,
];
/// `sha256sum` of [`BYTES`].
const HASH: &str = "7cb5d869ce184a643fb21d55249fe9d896f6bca9c0c0f9624a767f7ac46a2642";

fn blob_of(bytes: &[u8], mime: &str) -> Blob {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes).into());
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    Blob::new_with_u8_array_sequence_and_options(&parts, &options).unwrap()
}

fn png_blob() -> Blob {
    blob_of(BYTES, "image/png")
}

async fn bytes_of(blob: &Blob) -> Vec<u8> {
    let buffer = JsFuture::from(blob.array_buffer()).await.unwrap();
    js_sys::Uint8Array::new(&buffer).to_vec()
}

fn note(id: &str) -> RecordKey {
    RecordKey::new("notes", id)
}

fn note_with(hashes: &[&str]) -> serde_json::Value {
    json!({"title": "trip", "images": hashes.iter().map(|h| json!({"id": h})).collect::<Vec<_>>(),
           "blobs": hashes})
}

/// Note `n1` naming the PNG [`HASH`], written with its image as the app adds one.
async fn write_note_with_image(store: &Store) {
    let image = StoredBlob::from_blob("dot.png", &png_blob()).await.unwrap();
    store
        .put_record_with_blobs(note("n1"), note_with(&[HASH]), &[image])
        .await
        .unwrap();
}

async fn outbox_ids(store: &Store) -> Vec<String> {
    store
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

#[wasm_bindgen_test]
async fn a_blob_is_hashed_with_sha256_as_lowercase_hex() {
    assert_eq!(
        hash_blob(&blob_of(b"abc", "")).await.unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(hash_blob(&png_blob()).await.unwrap(), HASH);
}

async fn content_addressed(store: &Store) {
    let stored = store.put_blob("dot.png", &png_blob()).await.unwrap();
    assert_eq!(stored.id, HASH);
    assert_eq!(
        (stored.mime.as_str(), stored.size),
        ("image/png", BYTES.len() as f64)
    );
    // The same bytes again, under another name: still one row (the latest name).
    let again = store.put_blob("copy.png", &png_blob()).await.unwrap();
    assert_eq!(again.id, HASH);
    assert_eq!(store.blob_ids().await.unwrap(), vec![HASH.to_owned()]);
    assert_eq!(store.upload_marks().await.unwrap(), vec![HASH.to_owned()]);

    let got = store.get_blob(HASH).await.unwrap().expect("stored");
    assert_eq!(got.name, "copy.png");
    assert_eq!(got.blob.type_(), "image/png");
    assert_eq!(bytes_of(&got.blob).await, BYTES);

    // Other bytes are another row.
    let other = store
        .put_blob("other.bin", &blob_of(b"abc", ""))
        .await
        .unwrap();
    assert_ne!(other.id, HASH);
    assert_eq!(store.blob_ids().await.unwrap().len(), 2);
    assert_eq!(
        store.local_blob_bytes().await.unwrap(),
        (BYTES.len() + 3) as f64
    );

    // Deleting a blob takes its mark with it.
    store.delete_blob(&other.id).await.unwrap();
    assert_eq!(store.get_blob(&other.id).await.unwrap(), None);
    assert_eq!(store.upload_marks().await.unwrap(), vec![HASH.to_owned()]);
    store.delete_blob(&other.id).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_same_bytes_are_one_row_in_indexeddb() {
    let store = fresh("test-blobs-addressed").await;
    content_addressed(&store).await;
    drop(store);
    // Kept across a reopen, as a real Blob, with its mark.
    let store = Store::open("test-blobs-addressed").await.unwrap();
    let kept = store.get_blob(HASH).await.unwrap().expect("kept");
    assert!(JsValue::from(kept.blob.clone()).is_instance_of::<Blob>());
    assert_eq!(bytes_of(&kept.blob).await, BYTES);
    assert_eq!(store.upload_marks().await.unwrap(), vec![HASH.to_owned()]);
}

#[wasm_bindgen_test]
async fn the_same_bytes_are_one_row_in_memory() {
    content_addressed(&Store::memory("test").unwrap()).await;
}

async fn written_together_and_held_back(store: &Store) {
    let image = StoredBlob::from_blob("dot.png", &png_blob()).await.unwrap();
    assert_eq!(image.id, HASH);
    let record = store
        .put_record_with_blobs(note("n1"), note_with(&[HASH]), std::slice::from_ref(&image))
        .await
        .unwrap();
    assert_eq!(record.value["blobs"], json!([HASH]));
    assert_eq!(store.get(&note("n1")).await.unwrap(), Some(record));
    assert_eq!(outbox_ids(store).await, vec!["n1".to_owned()]);
    assert_eq!(store.blob_ids().await.unwrap(), vec![HASH.to_owned()]);
    assert_eq!(store.upload_marks().await.unwrap(), vec![HASH.to_owned()]);

    // A note naming no marked blob, and one naming a blob this device never had, go.
    store
        .write(note("n2"), json!({"title": "plain"}))
        .await
        .unwrap();
    let elsewhere = "a".repeat(64);
    store
        .write(note("n3"), note_with(&[&elsewhere]))
        .await
        .unwrap();
    assert_eq!(store.held_back().await.unwrap(), vec![note("n1")]);

    // A tombstone names nothing: deleting the note lets the deletion go.
    store.delete(note("n1")).await.unwrap();
    assert!(store.held_back().await.unwrap().is_empty());

    // A value that does not name a blob given with it stores nothing.
    let other = StoredBlob::from_blob("x", &blob_of(b"abc", ""))
        .await
        .unwrap();
    let err = store
        .put_record_with_blobs(note("n4"), note_with(&[HASH]), &[other.clone()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not name the image"), "{err}");
    assert_eq!(store.get(&note("n4")).await.unwrap(), None);
    assert_eq!(store.get_blob(&other.id).await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn blobs_marks_record_and_outbox_entry_are_written_together_in_indexeddb() {
    written_together_and_held_back(&fresh("test-blobs-together").await).await;
}

#[wasm_bindgen_test]
async fn blobs_marks_record_and_outbox_entry_are_written_together_in_memory() {
    written_together_and_held_back(&Store::memory("test").unwrap()).await;
}

#[wasm_bindgen_test]
async fn a_write_whose_transaction_fails_stores_neither_record_nor_blob() {
    let name = "test-blobs-failed";
    let store = fresh(name).await;
    // The device's stored clock at its very end: the write's transaction reads it,
    // cannot stamp the change, and aborts.
    let device = store.device_id();
    put_raw(
        name,
        "meta",
        &[(
            Some("clock"),
            json!(format!("ffffffffffff-ffffffff-{}00000000", device.as_str())),
        )],
    )
    .await;
    let image = StoredBlob::from_blob("dot.png", &png_blob()).await.unwrap();
    let err = store
        .put_record_with_blobs(note("n1"), note_with(&[HASH]), &[image])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("clock"), "{err}");
    assert_eq!(store.get(&note("n1")).await.unwrap(), None);
    assert!(store.outbox().await.unwrap().is_empty());
    assert!(store.blob_ids().await.unwrap().is_empty());
    assert!(store.upload_marks().await.unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn a_version_7_database_is_upgraded_keeping_its_blob_rows_local_only() {
    let name = "test-blobs-upgrade-v7";
    Store::delete_database(name).await.unwrap();
    // The schema as version 7 created it: no `uploads`.
    let by_key = ["collection", "id"];
    let v7 = Rexie::builder(name)
        .version(7)
        .add_object_store(
            ObjectStore::new("records")
                .key_path_array(by_key)
                .add_index(
                    Index::new_array("by_order", ["collection", "value.order_key"])
                        .unique(false)
                        .multi_entry(false),
                ),
        )
        .add_object_store(ObjectStore::new("outbox").key_path_array(by_key))
        .add_object_store(ObjectStore::new("quarantine").key_path_array(by_key))
        .add_object_store(ObjectStore::new("set_aside").key_path_array(by_key))
        .add_object_store(ObjectStore::new("conflicts").key_path_array([
            "collection",
            "id",
            "lost_hlc",
        ]))
        .add_object_store(ObjectStore::new("meta"))
        .add_object_store(ObjectStore::new("snapshots").key_path("id"))
        .add_object_store(ObjectStore::new("blobs").key_path("id"))
        .add_object_store(ObjectStore::new("secrets").key_path("name"))
        .add_object_store(ObjectStore::new("keys"))
        .build()
        .await
        .unwrap();
    // A blob row as version 7 wrote it, under a random id, and the note naming it.
    let legacy = "0123456789abcdef";
    let row = support::plain(json!({"id": legacy, "name": "old.png", "type": "image/png",
                                    "size": BYTES.len(), "stored_at_ms": 1}));
    js_sys::Reflect::set(&row, &"blob".into(), &png_blob()).unwrap();
    let tx = v7
        .transaction(&["blobs"], TransactionMode::ReadWrite)
        .unwrap();
    tx.store("blobs").unwrap().put(&row, None).await.unwrap();
    tx.done().await.unwrap();
    v7.close();
    put_raw(
        name,
        "records",
        &[(
            None,
            json!({"collection": "notes", "id": "old", "hlc": "000000000064-00000000-abc",
                   "deleted": false, "value": {"title": "old", "images": [{"id": legacy}]}}),
        )],
    )
    .await;
    put_raw(
        name,
        "meta",
        &[
            (Some("device_id"), json!("abc")),
            (Some("data_version"), json!(2)),
        ],
    )
    .await;

    let store = Store::open(name).await.unwrap();
    let kept = store.get_blob(legacy).await.unwrap().expect("kept");
    assert_eq!(kept.name, "old.png");
    assert_eq!(bytes_of(&kept.blob).await, BYTES);
    // Local only, as before: not marked, and not freed though no `blobs` names it.
    assert!(store.upload_marks().await.unwrap().is_empty());
    assert_eq!(
        store.release_unreferenced_blobs().await.unwrap(),
        Released::default()
    );
    assert_eq!(store.blob_ids().await.unwrap(), vec![legacy.to_owned()]);
    // The new store is there.
    store.put_blob("new.png", &png_blob()).await.unwrap();
    assert_eq!(store.upload_marks().await.unwrap(), vec![HASH.to_owned()]);
    drop(store);
    let db = Rexie::builder(name).build().await.unwrap();
    assert_eq!(db.version().unwrap(), DB_VERSION);
    db.close();
}

// ---- The upload phase, against a stand-in for the server ----

/// Installs a `fetch` answering the sync API as the server would (sessions, push, pull,
/// blobs), logging each request to `globalThis.__log`. `globalThis.__blobStatus` is
/// the status a `PUT /blobs/{hash}` gets; `__epoch` the epoch of replies; `__served`
/// the Blob a `GET /blobs/{hash}` returns (404 without one).
fn install_server() {
    let code = r#"
        globalThis.__log = [];
        globalThis.__blobStatus = 201;
        globalThis.__epoch = 'e1';
        globalThis.__served = null;
        globalThis.fetch = async (req) => {
            const url = new URL(req.url);
            const body = req.method === 'GET' ? null : await req.clone().arrayBuffer();
            const text = body ? new TextDecoder().decode(body) : '';
            globalThis.__log.push({method: req.method, path: url.pathname,
                type: req.headers.get('Content-Type'), auth: req.headers.get('Authorization'),
                size: body ? body.byteLength : 0, text});
            const json = (status, v) => new Response(JSON.stringify(v),
                {status, headers: {'Content-Type': 'application/json'}});
            const p = url.pathname;
            if (p === '/api/v1/sessions') return json(200, {token: 'tok', expires_at: 9e15});
            if (p === '/api/v1/blobs') return json(200,
                {bytes: 13, count: 1, quota_bytes: 1073741824, max_blob_bytes: 10485760});
            if (p.startsWith('/api/v1/blobs/')) {
                if (req.method === 'GET') {
                    const b = globalThis.__served;
                    return b ? new Response(b, {status: 200, headers: {'Content-Type': b.type}})
                             : json(404, {error: 'not_found', message: 'no such blob'});
                }
                const s = globalThis.__blobStatus;
                if (s === 507) return json(507, {error: 'quota_exceeded',
                    message: 'this account stores 1024 MB of its 1024 MB'});
                if (s === 413) return json(413, {error: 'blob_too_large',
                    message: 'an image may be at most 10 MB'});
                return json(s, {hash: p.slice(14), size: body.byteLength, created: s === 201});
            }
            const epoch = globalThis.__epoch;
            if (p === '/api/v1/sync/push') return json(200, {applied: 0, duplicates: 0,
                superseded: [], seq_before: 0, seq_after: 0, refused: [], epoch,
                server_time_ms: 0});
            if (p === '/api/v1/sync/pull') return json(200, {records: [], cursor: 0,
                more: false, head: 0, remaining: 0, epoch, server_time_ms: 0});
            return json(404, {error: 'not_found', message: p});
        };
    "#;
    js_sys::Function::new_no_args(code)
        .call0(&JsValue::NULL)
        .unwrap();
}

fn set_global(name: &str, value: &JsValue) {
    js_sys::Reflect::set(&js_sys::global(), &name.into(), value).unwrap();
}

/// The requests since the last call, as `(method, path, content type, authorization,
/// size, body text)`.
fn take_log() -> Vec<(String, String, String, String, usize, String)> {
    let log: js_sys::Array = js_sys::Reflect::get(&js_sys::global(), &"__log".into())
        .unwrap()
        .unchecked_into();
    let field = |e: &JsValue, f: &str| {
        js_sys::Reflect::get(e, &f.into())
            .unwrap()
            .as_string()
            .unwrap_or_default()
    };
    let out = log
        .iter()
        .map(|e| {
            let size = js_sys::Reflect::get(&e, &"size".into())
                .unwrap()
                .as_f64()
                .unwrap() as usize;
            (
                field(&e, "method"),
                field(&e, "path"),
                field(&e, "type"),
                field(&e, "auth"),
                size,
                field(&e, "text"),
            )
        })
        .collect();
    log.set_length(0);
    out
}

fn paths(log: &[(String, String, String, String, usize, String)]) -> Vec<String> {
    log.iter().map(|e| format!("{} {}", e.0, e.1)).collect()
}

async fn upload_phase(store: &Store) {
    install_server();
    let engine = SyncEngine::new(store, "");
    engine.sign_in("a@example.com", "secret").await.unwrap();
    take_log();
    write_note_with_image(store).await;
    store
        .write(note("n2"), json!({"title": "plain"}))
        .await
        .unwrap();

    // The account is full: the upload stops, the note naming the image stays queued,
    // the other goes; the status says why with the server's message.
    set_global("__blobStatus", &JsValue::from(507));
    let report = engine.sync_once().await.unwrap();
    let log = take_log();
    let put = format!("PUT /api/v1/blobs/{HASH}");
    assert_eq!(paths(&log)[0], put);
    let (_, _, mime, auth, size, _) = &log[0];
    assert_eq!(
        (mime.as_str(), auth.as_str(), *size),
        ("image/png", "Bearer tok", BYTES.len())
    );
    assert_eq!(paths(&log).iter().filter(|p| **p == put).count(), 1);
    let pushes: Vec<&String> = log
        .iter()
        .filter(|e| e.1 == "/api/v1/sync/push")
        .map(|e| &e.5)
        .collect();
    assert!(
        pushes.iter().all(|body| !body.contains("\"n1\"")),
        "{pushes:?}"
    );
    assert!(
        pushes.iter().any(|body| body.contains("\"n2\"")),
        "{pushes:?}"
    );
    assert_eq!((report.uploaded, report.held_back), (0, 1));
    match &report.upload_problem {
        Some(SyncError::Refused {
            status: 507,
            message,
            ..
        }) => assert!(message.contains("1024 MB"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.upload_marks().await.unwrap(), vec![HASH.to_owned()]);
    assert_eq!(outbox_ids(store).await, vec!["n1".to_owned()]);
    assert!(store.get_blob(HASH).await.unwrap().is_some());
    let status = engine.status().await.unwrap();
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("1024 MB"),
        "{status:?}"
    );

    // Named by a pending change, it is kept; named by nothing live, it is freed with
    // its mark (nothing could need it on the server).
    assert_eq!(
        store.release_unreferenced_blobs().await.unwrap(),
        Released::default()
    );
    store.delete(note("n1")).await.unwrap();
    assert_eq!(store.release_unreferenced_blobs().await.unwrap().count, 1);
    assert!(store.upload_marks().await.unwrap().is_empty());
    write_note_with_image(&store).await;

    // Room again: uploaded first, the mark cleared, then the note pushed.
    set_global("__blobStatus", &JsValue::from(201));
    let report = engine.sync_once().await.unwrap();
    let log = take_log();
    assert_eq!(paths(&log)[0], put);
    assert_eq!(paths(&log)[1], "POST /api/v1/sync/push");
    assert!(log[1].5.contains("\"n1\""));
    assert_eq!(
        (report.uploaded, report.held_back, report.upload_problem),
        (1, 0, None)
    );
    assert!(store.upload_marks().await.unwrap().is_empty());
    assert!(store.outbox().await.unwrap().is_empty());
    assert_eq!(engine.status().await.unwrap().last_error, None);

    // A restored server (a new epoch): the blobs records name are uploaded again
    // before the records.
    set_global("__epoch", &JsValue::from_str("e2"));
    let report = engine.sync_once().await.unwrap();
    let log = take_log();
    let first_put = paths(&log).iter().position(|p| *p == put).expect("put");
    let last_push = paths(&log)
        .iter()
        .rposition(|p| p == "POST /api/v1/sync/push")
        .expect("push");
    assert!(first_put < last_push, "{:?}", paths(&log));
    assert_eq!(report.uploaded, 1);
    assert!(store.upload_marks().await.unwrap().is_empty());

    // Uploaded and named: kept. Named by nothing live: freed.
    assert_eq!(
        store.release_unreferenced_blobs().await.unwrap(),
        Released::default()
    );
    store.delete(note("n1")).await.unwrap();
    assert_eq!(
        store.release_unreferenced_blobs().await.unwrap(),
        Released {
            count: 1,
            bytes: BYTES.len() as f64
        }
    );
    assert!(store.blob_ids().await.unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn the_upload_phase_runs_before_the_push_in_indexeddb() {
    upload_phase(&fresh("test-blobs-upload").await).await;
}

#[wasm_bindgen_test]
async fn the_upload_phase_runs_before_the_push_in_memory() {
    upload_phase(&Store::memory("test").unwrap()).await;
}

#[wasm_bindgen_test]
async fn a_missing_blob_is_fetched_from_the_server_and_kept_unmarked() {
    install_server();
    let store = fresh("test-blobs-fetch").await;
    let engine = SyncEngine::new(&store, "");
    assert_eq!(
        engine.fetch_blob(HASH).await.unwrap_err(),
        SyncError::SignedOut
    );
    engine.sign_in("a@example.com", "secret").await.unwrap();

    let err = engine.fetch_blob(HASH).await.unwrap_err();
    assert!(
        matches!(&err, SyncError::Refused { status: 404, message, .. }
            if message.contains("not on the sync server")),
        "{err:?}"
    );
    // Other bytes than the hash names are not kept.
    set_global("__served", &blob_of(b"abc", "image/png"));
    assert!(matches!(
        engine.fetch_blob(HASH).await,
        Err(SyncError::BadReply(_))
    ));
    assert!(store.blob_ids().await.unwrap().is_empty());

    set_global("__served", &png_blob());
    take_log();
    let got = engine.fetch_blob(HASH).await.unwrap();
    assert_eq!(got.id, HASH);
    assert_eq!(bytes_of(&got.blob).await, BYTES);
    let log = take_log();
    assert_eq!(paths(&log), vec![format!("GET /api/v1/blobs/{HASH}")]);
    assert_eq!(log[0].3, "Bearer tok");
    assert_eq!(store.blob_ids().await.unwrap(), vec![HASH.to_owned()]);
    assert!(store.upload_marks().await.unwrap().is_empty());
    // Held here now: no request.
    engine.fetch_blob(HASH).await.unwrap();
    assert!(take_log().is_empty());

    let usage = engine.blob_usage().await.unwrap();
    assert_eq!((usage.bytes, usage.quota_bytes), (13, 1024 * 1024 * 1024));
}

#[wasm_bindgen_test]
async fn another_account_gets_the_blobs_again_or_none_of_them() {
    install_server();
    let store = fresh("test-blobs-switch").await;
    let engine = SyncEngine::new(&store, "");
    engine.sign_in("a@example.com", "secret").await.unwrap();
    write_note_with_image(&store).await;
    // A blob no record names is not uploaded again to another account.
    let loose = store
        .put_blob("loose.bin", &blob_of(b"abc", ""))
        .await
        .unwrap();
    assert_eq!(engine.sync_once().await.unwrap().uploaded, 2);
    assert!(store.upload_marks().await.unwrap().is_empty());

    // Keeping this device's data in another account: its blobs are uploaded there
    // before the records.
    engine
        .sign_in_with(
            "b@example.com",
            "secret",
            cairn_client::AccountSwitch::KeepData,
        )
        .await
        .unwrap();
    assert_eq!(store.upload_marks().await.unwrap(), vec![HASH.to_owned()]);
    assert_eq!(store.held_back().await.unwrap(), vec![note("n1")]);
    take_log();
    let report = engine.sync_once().await.unwrap();
    assert_eq!((report.uploaded, report.held_back), (1, 0));
    let log = paths(&take_log());
    assert_eq!(log[0], format!("PUT /api/v1/blobs/{HASH}"));
    assert!(!log.contains(&format!("PUT /api/v1/blobs/{}", loose.id)));

    // Starting another account empty uploads nothing of this one's.
    store.put_blob("new.png", &png_blob()).await.unwrap();
    engine
        .sign_in_with(
            "c@example.com",
            "secret",
            cairn_client::AccountSwitch::StartEmpty,
        )
        .await
        .unwrap();
    assert!(store.upload_marks().await.unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn restoring_the_snapshot_of_another_account_uploads_its_images_before_its_records() {
    install_server();
    let store = fresh("test-blobs-restore").await;
    let engine = SyncEngine::new(&store, "");
    engine.sign_in("a@example.com", "secret").await.unwrap();
    write_note_with_image(&store).await;
    assert_eq!(engine.sync_once().await.unwrap().uploaded, 1);

    // Starting another account empty keeps the old data in a snapshot (without image
    // bytes: the blob stays on the device, unmarked).
    engine
        .sign_in_with(
            "b@example.com",
            "secret",
            cairn_client::AccountSwitch::StartEmpty,
        )
        .await
        .unwrap();
    assert!(store.upload_marks().await.unwrap().is_empty());
    assert!(store.get_blob(HASH).await.unwrap().is_some());

    // Restored into the new account, the note's image is marked before the note is
    // written: the new account's server gets it first.
    let snapshot = store.snapshots().await.unwrap().remove(0);
    let plan = store.plan_snapshot_restore(&snapshot.id).await.unwrap();
    store.import(&plan, |_, _| {}).await.unwrap();
    assert_eq!(store.upload_marks().await.unwrap(), vec![HASH.to_owned()]);
    assert_eq!(store.held_back().await.unwrap(), vec![note("n1")]);
    take_log();
    let report = engine.sync_once().await.unwrap();
    assert_eq!((report.uploaded, report.held_back), (1, 0));
    let log = paths(&take_log());
    assert_eq!(log[0], format!("PUT /api/v1/blobs/{HASH}"));
}
