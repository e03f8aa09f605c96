//! Concurrent edits on the store, in a real browser: each local change keeps the version it
//! was made from, a version made elsewhere without knowing the change is merged by the
//! collection's rule, and nothing of either is lost. The rule itself is tested natively
//! (`cairn_protocol::three_way`); the round against a real server end to end
//! (`tests/e2e/sync.test.mjs`).
#![cfg(target_arch = "wasm32")]

use cairn_client::Store;
use cairn_protocol::{ConflictKind, DeviceId, Hlc, MergeRule, MergeRules, Record, RecordKey};
use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::fresh;

fn other_device(key: &RecordKey, value: serde_json::Value, wall_ms: u64) -> Record {
    let hlc = Hlc::new(wall_ms, 0, DeviceId::new("elsewhere").unwrap()).unwrap();
    Record::new(key.clone(), value, hlc)
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

async fn notes_store(name: &str) -> Store {
    let store = fresh(name).await;
    store
        .set_merge_rules(MergeRules::new().with("notes", MergeRule::three_way(["updated_at"])))
        .await
        .unwrap();
    store
}

/// A synced note, as a pull brings it.
async fn synced(store: &Store, key: &RecordKey, value: serde_json::Value) -> Record {
    let base = other_device(key, value, now() - 60_000);
    store.apply_remote(&[base.clone()]).await.unwrap();
    base
}

#[wasm_bindgen_test]
async fn a_local_change_keeps_the_version_it_was_made_from_until_pushed() {
    let store = fresh("concurrent-base").await;
    let key = RecordKey::new("notes", "n1");
    let created = store.write(key.clone(), json!("new")).await.unwrap();
    let outbox = store.outbox().await.unwrap();
    assert!(outbox[0].created && outbox[0].base.is_none());
    // Pushed: the next change is made from it.
    store
        .acknowledge_push(&[created.clone()], &[])
        .await
        .unwrap();
    let first = store.write(key.clone(), json!("first")).await.unwrap();
    let second = store.write(key.clone(), json!("second")).await.unwrap();
    let outbox = store.outbox().await.unwrap();
    assert_eq!(outbox[0].hlc, second.hlc);
    assert_eq!(
        outbox[0].base.as_ref().unwrap().hlc,
        created.hlc,
        "edits before a push share their base"
    );
    // "first" is acknowledged while "second" waits: "second" was made after it.
    store.acknowledge_push(&[first.clone()], &[]).await.unwrap();
    let outbox = store.outbox().await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].base.as_ref().unwrap().hlc, first.hlc);
    // This device's own earlier version coming back from the server is not a conflict.
    let applied = store.apply_remote(&[first]).await.unwrap();
    assert_eq!(applied, Default::default());
    assert!(store.conflicts().await.unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn a_rename_elsewhere_and_an_edit_here_both_survive() {
    let store = notes_store("concurrent-merge").await;
    let key = RecordKey::new("notes", "shopping");
    synced(
        &store,
        &key,
        json!({"title": "Shopping", "body": "milk", "updated_at": 1}),
    )
    .await;
    let mine = store
        .write(
            key.clone(),
            json!({"title": "Shopping", "body": "milk\neggs", "updated_at": 3}),
        )
        .await
        .unwrap();
    let renamed = other_device(
        &key,
        json!({"title": "Shopping for Saturday", "body": "milk", "updated_at": 2}),
        now() - 30_000,
    );
    let applied = store.apply_remote(&[renamed.clone()]).await.unwrap();
    assert_eq!(
        (applied.conflicts, applied.merges, applied.rebased),
        (0, 1, 1)
    );
    let merged = store.get(&key).await.unwrap().unwrap();
    assert_eq!(
        merged.value,
        json!({"title": "Shopping for Saturday", "body": "milk\neggs", "updated_at": 3})
    );
    assert!(merged.hlc > mine.hlc);
    assert_eq!(applied.changed, vec![merged.clone()]);
    // Queued as a change made from the rename, so the server takes it over the rename.
    let outbox = store.outbox().await.unwrap();
    assert_eq!(outbox[0].hlc, merged.hlc);
    assert_eq!(outbox[0].base.as_ref().unwrap().hlc, renamed.hlc);
    // The log says it merged, and keeps this device's version from before.
    let conflicts = store.conflicts().await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].conflict.kind, ConflictKind::Merged);
    assert_eq!(conflicts[0].conflict.loser, mine);
    assert_eq!(conflicts[0].conflict.winner, merged);
}

#[wasm_bindgen_test]
async fn the_same_field_changed_on_both_keeps_the_newer_and_logs_the_other() {
    let store = notes_store("concurrent-overlap").await;
    let key = RecordKey::new("notes", "n");
    synced(&store, &key, json!({"title": "t", "body": "one"})).await;
    let mine = store
        .write(key.clone(), json!({"title": "mine", "body": "one"}))
        .await
        .unwrap();
    // Newer than "mine": its title stands.
    let theirs = other_device(
        &key,
        json!({"title": "theirs", "body": "one"}),
        now() + 60_000,
    );
    let applied = store.apply_remote(&[theirs.clone()]).await.unwrap();
    assert_eq!((applied.conflicts, applied.rebased), (1, 0));
    assert_eq!(store.get(&key).await.unwrap(), Some(theirs.clone()));
    assert!(store.outbox().await.unwrap().is_empty());
    let conflicts = store.conflicts().await.unwrap();
    assert_eq!(conflicts[0].conflict.kind, ConflictKind::Overwritten);
    assert_eq!(conflicts[0].conflict.loser, mine);
    // "Restore" brings it back as a new change made from the winner.
    let restored = store.restore_conflict(&conflicts[0]).await.unwrap();
    assert_eq!(restored.value, mine.value);
    assert_eq!(
        store.outbox().await.unwrap()[0].base.as_ref().unwrap().hlc,
        theirs.hlc
    );
}

#[wasm_bindgen_test]
async fn an_edit_here_beats_a_delete_elsewhere_which_is_logged() {
    let store = notes_store("concurrent-delete").await;
    let key = RecordKey::new("notes", "n");
    synced(&store, &key, json!({"body": "one"})).await;
    store
        .write(key.clone(), json!({"body": "two"}))
        .await
        .unwrap();
    let deleted = Record::tombstone(
        key.clone(),
        Hlc::new(now() + 60_000, 0, DeviceId::new("elsewhere").unwrap()).unwrap(),
    );
    let applied = store.apply_remote(&[deleted.clone()]).await.unwrap();
    assert_eq!((applied.conflicts, applied.rebased), (1, 1));
    let kept = store.get(&key).await.unwrap().unwrap();
    assert!(!kept.deleted);
    assert_eq!(kept.value, json!({"body": "two"}));
    let conflicts = store.conflicts().await.unwrap();
    assert!(conflicts[0].conflict.loser.deleted);
}

#[wasm_bindgen_test]
async fn merge_rules_are_kept_for_every_context_that_opens_the_database() {
    let rules = MergeRules::new().with("notes", MergeRule::three_way(["updated_at"]));
    let store = fresh("concurrent-rules").await;
    store.set_merge_rules(rules.clone()).await.unwrap();
    let other = Store::open("concurrent-rules").await.unwrap();
    assert_eq!(other.merge_rules(), rules);
}

/// A write of many keys reads their versions with one `getAll` over the keys' range when
/// they lie densely in the store, and one `get` each when they lie sparsely among many
/// other records: either way each change is made from its own record's version (or from
/// nothing, for a new record), and a pending change keeps the base it had.
#[wasm_bindgen_test]
async fn a_write_of_many_keys_is_made_from_each_ones_version_dense_or_sparse() {
    let store = fresh("concurrent-write-many").await;
    let key = |i: usize| RecordKey::new("notes", format!("{i:03}"));
    let synced = store
        .write_many((0..200).map(|i| (key(i), json!(i))).collect())
        .await
        .unwrap();
    store.acknowledge_push(&synced, &[]).await.unwrap();
    // 150 is edited and not yet pushed: its change stays made from the synced version.
    store.write(key(150), json!("pending")).await.unwrap();

    // Ten neighbours (a dense range), then every twentieth key (a sparse one), each batch
    // with a new record beyond the others.
    let dense: Vec<usize> = (10..20).chain([300]).collect();
    let sparse: Vec<usize> = (0..200).step_by(10).chain([400]).collect();
    for batch in [dense, sparse] {
        let written = store
            .write_many(batch.iter().map(|&i| (key(i), json!("edited"))).collect())
            .await
            .unwrap();
        assert_eq!(written.len(), batch.len());
        let outbox = store.outbox().await.unwrap();
        for &i in &batch {
            let entry = outbox.iter().find(|e| e.id == key(i).id).unwrap();
            match synced.get(i) {
                Some(version) => {
                    let base = entry.base.as_ref().map(|b| b.hlc.clone());
                    assert_eq!(base, Some(version.hlc.clone()), "the base of {i}");
                    assert!(!entry.created, "{i} was not created here");
                }
                None => {
                    assert!(entry.created, "{i} was created here");
                    assert_eq!(entry.base, None, "{i} has no base");
                }
            }
        }
    }
}
