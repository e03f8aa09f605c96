//! The store's side of sync, in a real browser: applying remote records by the merge
//! rule, the conflict log, acknowledging pushes, the sync lock, backoff, sync notices. The sync round
//! against a real server is covered by the end-to-end tests (`tests/e2e/sync.test.mjs`).
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use cairn_client::{global, Backoff, Store, SyncEngine, SyncNotices};
use cairn_protocol::{DeviceId, Hlc, Record, RecordKey};
use futures_util::StreamExt;
use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::fresh;

fn remote(id: &str, value: serde_json::Value, wall_ms: u64) -> Record {
    let hlc = Hlc::new(wall_ms, 0, DeviceId::new("remote").unwrap()).unwrap();
    Record::new(RecordKey::new("notes", id), value, hlc)
}

/// A remote clock a minute ahead of this device's: newer than anything written here.
fn soon() -> u64 {
    js_sys::Date::now() as u64 + 60_000
}

#[wasm_bindgen_test]
async fn remote_records_apply_by_clock_and_move_the_local_clock() {
    let store = fresh("sync-apply").await;
    let newer = remote(
        "a",
        json!("from elsewhere"),
        js_sys::Date::now() as u64 + 60_000,
    );
    let applied = store.apply_remote(&[newer.clone()]).await.unwrap();
    assert_eq!(applied.changed, vec![newer.clone()]);
    assert_eq!(store.get(&newer.key()).await.unwrap(), Some(newer.clone()));
    assert!(
        store.outbox().await.unwrap().is_empty(),
        "remote records are not queued"
    );

    // Applying it again, or an older version, changes nothing.
    let older = remote("a", json!("stale"), 1);
    assert!(store
        .apply_remote(&[newer.clone(), older])
        .await
        .unwrap()
        .changed
        .is_empty());
    assert_eq!(store.get(&newer.key()).await.unwrap(), Some(newer.clone()));

    // A local edit made next orders after what was seen, though the remote clock is
    // ahead of this device's: the edit wins, as the user expects.
    let edit = store.write(newer.key(), json!("mine")).await.unwrap();
    assert!(edit.hlc > newer.hlc);
}

#[wasm_bindgen_test]
async fn a_losing_pending_change_goes_to_the_conflict_log_and_can_be_restored() {
    let store = fresh("sync-conflict").await;
    let mine = store
        .write(RecordKey::new("notes", "a"), json!("mine"))
        .await
        .unwrap();
    let theirs = remote("a", json!("theirs"), soon());

    let applied = store.apply_remote(&[theirs.clone()]).await.unwrap();
    assert_eq!(applied.conflicts, 1);
    assert_eq!(store.get(&mine.key()).await.unwrap(), Some(theirs.clone()));
    assert!(
        store.outbox().await.unwrap().is_empty(),
        "the loser leaves the outbox"
    );
    let conflicts = store.conflicts().await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].conflict.winner, theirs);
    assert_eq!(conflicts[0].conflict.loser, mine);

    let restored = store.restore_conflict(&conflicts[0]).await.unwrap();
    assert_eq!(restored.value, json!("mine"));
    assert!(
        restored.hlc > theirs.hlc,
        "a restored version is a new change that wins"
    );
    assert_eq!(
        store.outbox().await.unwrap().len(),
        1,
        "and it is queued for sync"
    );
    assert!(store.conflicts().await.unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn a_pending_change_beats_an_older_concurrent_version_which_is_logged() {
    let store = fresh("sync-keep").await;
    let mine = store
        .write(RecordKey::new("notes", "a"), json!("mine"))
        .await
        .unwrap();
    // Made elsewhere without knowing "mine" (its clock is older, but it reached the
    // server first): "mine" wins by clock, as a new change made from it, and it is logged.
    let old = remote("a", json!("old"), 1);
    let applied = store.apply_remote(&[old.clone()]).await.unwrap();
    assert_eq!((applied.conflicts, applied.rebased), (1, 1));
    let current = store.get(&mine.key()).await.unwrap().unwrap();
    assert_eq!(current.value, json!("mine"));
    assert!(current.hlc > mine.hlc);
    let outbox = store.outbox().await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].hlc, current.hlc);
    assert_eq!(outbox[0].base.as_ref().unwrap().hlc, old.hlc);
    let conflicts = store.conflicts().await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].conflict.loser, old);
    // The same version again changes nothing: it is the new change's base now.
    let again = store.apply_remote(&[old]).await.unwrap();
    assert_eq!(again, Default::default());
}

#[wasm_bindgen_test]
async fn acknowledging_a_push_keeps_changes_made_while_it_was_in_flight() {
    let store = fresh("sync-ack").await;
    let a = store
        .write(RecordKey::new("notes", "a"), json!(1))
        .await
        .unwrap();
    let b = store
        .write(RecordKey::new("notes", "b"), json!(1))
        .await
        .unwrap();
    // `b` is edited again while the push of its first version is in flight.
    store.write(b.key(), json!(2)).await.unwrap();
    store
        .acknowledge_push(&[a.clone(), b.clone()], &[])
        .await
        .unwrap();
    let left: Vec<String> = store
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, vec!["b".to_owned()]);
}

/// A batch is acknowledged with one delete over its key range when the range holds just
/// its entries: a change queued inside that range while the push was in flight (a key
/// sorting between two pushed ones), and the entries beside the range, stay queued.
#[wasm_bindgen_test]
async fn acknowledging_a_push_keeps_a_change_queued_between_its_keys_meanwhile() {
    let store = fresh("sync-ack-range").await;
    let mut pushed = Vec::new();
    for id in ["a", "c", "e"] {
        let key = RecordKey::new("notes", id);
        pushed.push(store.write(key, json!(1)).await.unwrap());
    }
    for id in ["0", "z"] {
        store
            .write(RecordKey::new("notes", id), json!("not pushed"))
            .await
            .unwrap();
    }
    // Written while [a, c, e] was in flight: it sorts inside the batch's range.
    store
        .write(RecordKey::new("notes", "b"), json!("meanwhile"))
        .await
        .unwrap();
    store.acknowledge_push(&pushed, &[]).await.unwrap();
    assert_eq!(queued_ids(&store).await, ["0", "b", "z"]);

    // The batch that now fills its range whole goes with one delete; its neighbours stay.
    let b = store
        .get(&RecordKey::new("notes", "b"))
        .await
        .unwrap()
        .unwrap();
    store.acknowledge_push(&[b], &[]).await.unwrap();
    assert_eq!(queued_ids(&store).await, ["0", "z"]);
}

async fn queued_ids(store: &Store) -> Vec<String> {
    let entries = store.outbox().await.unwrap();
    entries.into_iter().map(|e| e.id).collect()
}

#[wasm_bindgen_test]
async fn a_superseded_push_logs_the_conflict_and_shows_the_winner() {
    let store = fresh("sync-superseded").await;
    let mine = store
        .write(RecordKey::new("notes", "a"), json!("mine"))
        .await
        .unwrap();
    let winner = remote("a", json!("theirs"), soon());
    let applied = store
        .acknowledge_push(&[mine.clone()], &[winner.clone()])
        .await
        .unwrap();
    assert_eq!(applied.conflicts, 1);
    assert_eq!(store.get(&mine.key()).await.unwrap(), Some(winner));
    assert!(store.outbox().await.unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn the_memory_store_syncs_the_same_way() {
    let store = Store::memory("test").unwrap();
    let mine = store
        .write(RecordKey::new("notes", "a"), json!("mine"))
        .await
        .unwrap();
    let theirs = remote("a", json!("theirs"), soon());
    assert_eq!(
        store
            .apply_remote(&[theirs.clone()])
            .await
            .unwrap()
            .conflicts,
        1
    );
    assert_eq!(store.get(&mine.key()).await.unwrap(), Some(theirs));
    assert_eq!(store.conflicts().await.unwrap().len(), 1);
    assert_eq!(store.pending_count().await.unwrap(), 0);
}

#[wasm_bindgen_test]
async fn sync_lock_holders_never_overlap() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let holder = |name: &'static str| {
        let log = log.clone();
        async move {
            global::with_lock("cairn-test-lock", async {
                log.borrow_mut().push(format!("{name} in"));
                global::sleep_ms(20).await;
                log.borrow_mut().push(format!("{name} out"));
            })
            .await
        }
    };
    futures_util::future::join(holder("a"), holder("b")).await;
    let log = log.borrow();
    assert_eq!(log.len(), 4);
    assert_eq!(
        log[0].split(' ').next(),
        log[1].split(' ').next(),
        "{log:?}"
    );
    assert_eq!(
        log[2].split(' ').next(),
        log[3].split(' ').next(),
        "{log:?}"
    );
}

#[wasm_bindgen_test]
fn backoff_grows_exponentially_with_jitter_and_is_capped() {
    let mut backoff = Backoff::new(1_000, 8_000);
    let delays: Vec<u32> = (0..6).map(|_| backoff.next_delay_ms(1.0)).collect();
    assert_eq!(delays, vec![1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    let mut backoff = Backoff::new(1_000, 8_000);
    let low: Vec<u32> = (0..4).map(|_| backoff.next_delay_ms(0.0)).collect();
    assert_eq!(low, vec![500, 1_000, 2_000, 4_000]);
}

#[wasm_bindgen_test]
async fn sync_notices_hear_another_connection_change_sync_settings_until_dropped() {
    let name = "sync-notices";
    let listening = fresh(name).await;
    let changing = Store::open(name).await.unwrap();
    let (heard, mut notices_heard) = futures_channel::mpsc::unbounded();
    let notices = SyncNotices::subscribe(&listening, move || {
        let _ = heard.unbounded_send(());
    })
    .expect("BroadcastChannel exists in Chromium");

    SyncEngine::new(&changing, "")
        .set_excluded_collections(&["notes".to_owned()])
        .await
        .unwrap();

    assert_eq!(notices_heard.next().await, Some(()));
    assert_eq!(
        SyncEngine::new(&listening, "")
            .excluded_collections()
            .await
            .unwrap(),
        vec!["notes".to_owned()]
    );
    // Dropping the notices lets go of the listener (and the sender it holds).
    drop(notices);
    assert_eq!(notices_heard.next().await, None);
}
