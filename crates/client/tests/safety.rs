//! The store's data-safety rules in a real browser: clocks across contexts of one device,
//! clocks far from physical time, versions replaced while a change was being typed,
//! quarantined rows and the outbox.
#![cfg(target_arch = "wasm32")]

use cairn_client::Store;
use cairn_protocol::hlc::MAX_DRIFT_MS;
use cairn_protocol::{DeviceId, Hlc, Record};
use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{fresh, key, put_raw};

const HOUR_MS: u64 = 60 * 60 * 1000;

fn now() -> u64 {
    js_sys::Date::now() as u64
}

fn remote(id: &str, value: serde_json::Value, wall_ms: u64) -> Record {
    let hlc = Hlc::new(wall_ms, 0, DeviceId::new("remote").unwrap()).unwrap();
    Record::new(key("notes", id), value, hlc)
}

#[wasm_bindgen_test]
async fn contexts_never_reuse_a_clock_and_the_stored_clock_never_moves_back() {
    let name = "safety-contexts";
    let page = fresh(name).await;
    // A worker-like context, opened while the device's clock was still at wall time.
    let worker = Store::open(name).await.unwrap();
    assert_eq!(page.device_id(), worker.device_id());

    // The page's clock runs ahead of wall time (it saw a record from a fast device), and
    // it writes a lot.
    page.apply_remote(&[remote("fast", json!(1), now() + HOUR_MS)])
        .await
        .unwrap();
    let mut last = None;
    for n in 0..50 {
        last = Some(page.write(key("notes", "a"), json!(n)).await.unwrap());
    }
    let last = last.unwrap();

    // The worker, which never heard of those writes, applies a pull page and stores
    // its own (older) clock.
    let from_worker = worker
        .apply_remote(&[remote("slow", json!(2), now() - HOUR_MS)])
        .await
        .unwrap();
    assert_eq!(from_worker.changed.len(), 1);
    let worker_write = worker.write(key("notes", "b"), json!("w")).await.unwrap();
    assert_ne!(worker_write.hlc.device(), last.hlc.device());
    assert!(page.is_own_clock(&worker_write.hlc) && worker.is_own_clock(&last.hlc));
    assert!(!page.is_own_clock(&remote("x", json!(0), 1).hlc));
    drop((page, worker));

    // After a reload the next change orders after everything this device issued.
    let reloaded = Store::open(name).await.unwrap();
    let next = reloaded
        .write(key("notes", "a"), json!("next"))
        .await
        .unwrap();
    assert!(next.hlc > last.hlc, "{} after {}", next.hlc, last.hlc);
    assert!(next.hlc > worker_write.hlc);
}

#[wasm_bindgen_test]
async fn a_record_far_ahead_of_this_device_is_beaten_by_the_next_local_edit() {
    let store = fresh("safety-far-ahead").await;
    // The server's clock is three days ahead of this device's, and it accepted a record
    // twenty hours ahead of its own.
    let server_ahead = 3 * 24 * HOUR_MS;
    store
        .observe_server_time(now() + server_ahead)
        .await
        .unwrap();
    let far = remote("n", json!("far"), now() + server_ahead + 20 * HOUR_MS);
    store.apply_remote(&[far.clone()]).await.unwrap();
    let edit = store.write(far.key(), json!("mine")).await.unwrap();
    assert!(edit.hlc > far.hlc, "{} after {}", edit.hlc, far.hlc);
}

#[wasm_bindgen_test]
async fn a_clock_left_far_ahead_comes_back_within_the_servers_drift_limit_and_stays() {
    let name = "safety-clock-back";
    drop(fresh(name).await);
    // Stored while this device's clock was set three days ahead.
    let ahead = Hlc::new(now() + 3 * MAX_DRIFT_MS, 7, DeviceId::new("dev").unwrap()).unwrap();
    put_raw(name, "meta", &[(Some("clock"), json!(ahead.to_string()))]).await;
    let store = Store::open(name).await.unwrap();
    // Without word from the server, the clock keeps its lead: it never moves back alone.
    let before = store.write(key("notes", "a"), json!(0)).await.unwrap();
    assert!(before.hlc > ahead);

    // A reply says what time it is: stamps come back to what the server accepts.
    store.observe_server_time(now()).await.unwrap();
    let write = store.write(key("notes", "a"), json!(1)).await.unwrap();
    let limit = now() + MAX_DRIFT_MS;
    assert!(
        write.hlc.wall_ms() <= limit,
        "{} ms beyond the limit",
        write.hlc.wall_ms().saturating_sub(limit)
    );
    let second = store.write(key("notes", "a"), json!(2)).await.unwrap();
    assert!(second.hlc > write.hlc);
    drop(store);

    // And the next start does not take the refused clock again.
    let reopened = Store::open(name).await.unwrap();
    let third = reopened.write(key("notes", "a"), json!(3)).await.unwrap();
    assert!(third.hlc > second.hlc && third.hlc.wall_ms() <= now() + MAX_DRIFT_MS);
}

#[wasm_bindgen_test]
async fn a_version_replaced_while_typing_goes_to_the_conflict_log() {
    let store = fresh("safety-replaced").await;
    let theirs = remote("n", json!("theirs"), now() - 1_000);
    store.apply_remote(&[theirs.clone()]).await.unwrap();
    let mine = store
        .write_replacing(theirs.key(), json!("mine"), Some(&theirs))
        .await
        .unwrap();
    assert_eq!(store.get(&theirs.key()).await.unwrap(), Some(mine.clone()));
    let conflicts = store.conflicts().await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].conflict.loser, theirs);
    assert_eq!(conflicts[0].conflict.winner, mine);
    assert_eq!(store.pending_count().await.unwrap(), 1);

    // Restoring it makes it current again, as a new change.
    let restored = store.restore_conflict(&conflicts[0]).await.unwrap();
    assert_eq!(restored.value, json!("theirs"));
    assert!(restored.hlc > mine.hlc);
}

#[wasm_bindgen_test]
async fn a_quarantined_record_leaves_the_outbox_and_a_later_version_is_not_pushed_back() {
    let name = "safety-quarantine";
    let store = fresh(name).await;
    store.write(key("notes", "a"), json!("fine")).await.unwrap();
    store
        .write(key("notes", "b"), json!("soon bad"))
        .await
        .unwrap();
    let bad = json!({"collection": "notes", "id": "b", "value": 1, "hlc": "garbage"});
    put_raw(name, "records", &[(None, bad)]).await;
    let loaded = store.load_collection("notes").await.unwrap();
    assert_eq!(loaded.quarantined.len(), 1);
    let queued: Vec<_> = store
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        queued,
        ["a"],
        "the quarantine keeps b; nothing is left to push"
    );

    // A version from elsewhere is stored, and not queued as if it were a local change.
    store
        .apply_remote(&[remote("b", json!("theirs"), now())])
        .await
        .unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 1);
}
