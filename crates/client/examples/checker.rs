//! The client's side of the randomized checker (`tests/e2e/checker/`), run by
//! `cargo xtask test` (small) and `cargo xtask test --soak` (large).
//!
//! One module instance per JavaScript context — a tab, or a dedicated `Worker` loading
//! this same wasm the way the service worker's sync module does — holds at most one open
//! [`Store`]. Every export works on that store through `cairn_client`'s public API only,
//! and answers JSON text (the driver parses it), so the same exports serve pages and
//! workers alike. Records are answered as `{collection, id, hlc, value, deleted}` with the
//! clock as its string encoding.

use std::cell::RefCell;
use std::rc::Rc;

use cairn_client::sync::AccountSwitch;
use cairn_client::{Store, Subscription, SyncEngine, SyncError};
use cairn_protocol::backup::LocalChange;
use cairn_protocol::{Record, RecordKey};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

struct Open {
    store: Rc<Store>,
    /// Other contexts' changes move this store's clock, as in the app.
    _changes: Option<Subscription>,
}

thread_local! {
    static OPEN: RefCell<Option<Open>> = const { RefCell::new(None) };
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

fn store() -> Result<Rc<Store>, JsValue> {
    OPEN.with(|o| o.borrow().as_ref().map(|o| o.store.clone()))
        .ok_or_else(|| js_err("no store is open in this context"))
}

fn record_json(r: &Record) -> Value {
    json!({
        "collection": r.collection,
        "id": r.id,
        "hlc": r.hlc.to_string(),
        "value": r.value,
        "deleted": r.deleted,
    })
}

fn text(value: Value) -> String {
    value.to_string()
}

/// Opens the database `db` in this context (closing any store it had open); answers the
/// device id.
#[wasm_bindgen]
pub async fn open(db: String) -> Result<String, JsValue> {
    close();
    let store = Rc::new(Store::open(&db).await.map_err(js_err)?);
    let changes = store.subscribe(|_| {});
    let device = store.device_id().as_str().to_owned();
    OPEN.with(|o| {
        *o.borrow_mut() = Some(Open {
            store,
            _changes: changes,
        })
    });
    Ok(text(json!({ "device": device })))
}

/// Drops this context's store (its connections close once no call uses it any more).
#[wasm_bindgen]
pub fn close() {
    OPEN.with(|o| o.borrow_mut().take());
}

/// Registers `email` and signs in to it.
#[wasm_bindgen]
pub async fn sign_up(email: String, password: String) -> Result<String, JsValue> {
    let store = store()?;
    let session = SyncEngine::new(&store, "")
        .sign_up(&email, &password)
        .await
        .map_err(js_err)?;
    Ok(text(json!({ "account": session.email })))
}

/// Signs in to `email`. `switch` is what to do with data of another account:
/// `"keep"` or `"empty"` (the driver passes one; see [`sign_in_switching`]).
#[wasm_bindgen]
pub async fn sign_in(email: String, password: String, switch: String) -> Result<String, JsValue> {
    let store = store()?;
    let sync = SyncEngine::new(&store, "");
    let choice = sign_in_switching(&sync, &email, &password, &switch).await?;
    Ok(text(json!({ "account": email, "switch": choice })))
}

/// THE ONE PLACE THE ACCOUNT-SWITCH API IS USED. Answers which choice was made: `"none"`
/// when the client asked nothing, `"keep"` / `"empty"` when it asked
/// (`SyncError::DataOfAnotherAccount`) and `switch` answered with
/// `AccountSwitch::KeepData` / `AccountSwitch::StartEmpty`. (Before the client asked, a
/// sign-in silently queued the old account's data into the new one; the driver's
/// invariant (e) is what caught that.)
async fn sign_in_switching(
    sync: &SyncEngine<'_>,
    email: &str,
    password: &str,
    switch: &str,
) -> Result<&'static str, JsValue> {
    match sync.sign_in(email, password).await {
        Ok(_) => Ok("none"),
        Err(SyncError::DataOfAnotherAccount { .. }) => {
            let (how, answer) = if switch == "keep" {
                (AccountSwitch::KeepData, "keep")
            } else {
                (AccountSwitch::StartEmpty, "empty")
            };
            sync.sign_in_with(email, password, how)
                .await
                .map_err(js_err)?;
            Ok(answer)
        }
        Err(e) => Err(js_err(e)),
    }
}

/// Signs out (local data and outbox stay).
#[wasm_bindgen]
pub async fn sign_out() -> Result<String, JsValue> {
    let store = store()?;
    SyncEngine::new(&store, "")
        .sign_out()
        .await
        .map_err(js_err)?;
    Ok(text(Value::Null))
}

/// The signed-in account, or null.
#[wasm_bindgen]
pub async fn account() -> Result<String, JsValue> {
    let store = store()?;
    let session = SyncEngine::new(&store, "")
        .session()
        .await
        .map_err(js_err)?;
    Ok(text(json!(session.map(|s| s.email))))
}

/// Writes `value_json` at `collection`/`id`; answers the stored record.
#[wasm_bindgen]
pub async fn write(collection: String, id: String, value_json: String) -> Result<String, JsValue> {
    let store = store()?;
    let value: Value = serde_json::from_str(&value_json).map_err(js_err)?;
    made_from(
        &store,
        LocalChange::Put(RecordKey::new(collection, id), value),
    )
    .await
}

/// Makes `change` and answers the stored record as JSON with `base`: the clock of the
/// version its change was made from (`null`: a record created here). The driver reads it
/// to tell a version replaced knowingly from one lost.
async fn made_from(store: &Store, change: LocalChange) -> Result<String, JsValue> {
    let mut written = store
        .commit_changes_made_from(vec![change])
        .await
        .map_err(js_err)?;
    let (record, base) = written.remove(0);
    let mut json = record_json(&record);
    json["base"] = base.map_or(Value::Null, |base| json!(base.to_string()));
    Ok(text(json))
}

/// Deletes `collection`/`id` (a tombstone); answers the stored record. (Not named
/// `delete`: wasm-bindgen would export that as `_delete`.)
#[wasm_bindgen]
pub async fn delete_record(collection: String, id: String) -> Result<String, JsValue> {
    let store = store()?;
    made_from(&store, LocalChange::Delete(RecordKey::new(collection, id))).await
}

/// One sync round: `{ok, pushed, pulled, conflicts, refused}` or `{ok: false, error,
/// kind}` (`kind`: `signed_out`, `unauthorized`, `transient`, `refused`, `other`).
#[wasm_bindgen]
pub async fn sync_once() -> Result<String, JsValue> {
    let store = store()?;
    let outcome = SyncEngine::new(&store, "").sync_once().await;
    Ok(text(match outcome {
        Ok(report) => json!({
            "ok": true,
            "pushed": report.pushed,
            "pulled": report.pulled,
            "conflicts": report.conflicts,
            "refused": report
                .refused
                .iter()
                .map(|(k, reason)| json!({ "collection": k.collection, "id": k.id, "reason": reason }))
                .collect::<Vec<_>>(),
        }),
        Err(e) => {
            let kind = match &e {
                SyncError::SignedOut => "signed_out",
                SyncError::Unauthorized => "unauthorized",
                e if e.is_transient() => "transient",
                SyncError::Refused { .. } => "refused",
                _ => "other",
            };
            json!({ "ok": false, "error": e.to_string(), "kind": kind })
        }
    }))
}

/// How many local changes wait to be pushed.
#[wasm_bindgen]
pub async fn pending_count() -> Result<String, JsValue> {
    let store = store()?;
    Ok(text(json!(store.pending_count().await.map_err(js_err)?)))
}

/// The outbox: `[{collection, id, hlc}]`.
#[wasm_bindgen]
pub async fn outbox() -> Result<String, JsValue> {
    let store = store()?;
    let entries = store.outbox().await.map_err(js_err)?;
    Ok(text(json!(entries
        .iter()
        .map(|e| json!({ "collection": e.collection, "id": e.id, "hlc": e.hlc.to_string() }))
        .collect::<Vec<_>>())))
}

/// Every record (tombstones included) of `collections` (comma-separated), in key order.
#[wasm_bindgen]
pub async fn dump(collections: String) -> Result<String, JsValue> {
    let store = store()?;
    let mut out = Vec::new();
    for collection in collections.split(',').filter(|c| !c.is_empty()) {
        let loaded = store.load_collection(collection).await.map_err(js_err)?;
        if !loaded.quarantined.is_empty() {
            return Err(js_err(format!(
                "{} record(s) of {collection} were quarantined",
                loaded.quarantined.len()
            )));
        }
        out.extend(loaded.records.iter().map(record_json));
    }
    Ok(text(json!(out)))
}

/// The conflict log: `[{winner, loser, detected_at_ms}]`.
#[wasm_bindgen]
pub async fn conflicts() -> Result<String, JsValue> {
    let store = store()?;
    let all = store.conflicts().await.map_err(js_err)?;
    Ok(text(json!(all
        .iter()
        .map(|c| json!({
            "winner": record_json(&c.conflict.winner),
            "loser": record_json(&c.conflict.loser),
            "detected_at_ms": c.conflict.detected_at_ms,
        }))
        .collect::<Vec<_>>())))
}

/// The changes set aside (refused by a limit or the server): `[{record, reason, at_ms}]`.
#[wasm_bindgen]
pub async fn set_aside() -> Result<String, JsValue> {
    let store = store()?;
    let all = store.set_aside().await.map_err(js_err)?;
    Ok(text(json!(all
        .iter()
        .map(|s| json!({
            "record": record_json(&s.record),
            "reason": s.reason,
            "at_ms": s.set_aside_at_ms,
        }))
        .collect::<Vec<_>>())))
}

/// Every record (tombstones included) of every local snapshot:
/// `[{snapshot, records: [record…]}]`, newest snapshot first. A device that starts another
/// account empty keeps the old account's data in one.
#[wasm_bindgen]
pub async fn snapshots() -> Result<String, JsValue> {
    let store = store()?;
    let mut out = Vec::new();
    for info in store.snapshots().await.map_err(js_err)? {
        let validated = store.snapshot_backup(&info.id).await.map_err(js_err)?;
        out.push(json!({
            "snapshot": info.id,
            "records": validated.backup.records.iter().map(record_json).collect::<Vec<_>>(),
        }));
    }
    Ok(text(json!(out)))
}

/// Tries every set-aside change again, as a user does once the cause is fixed (the
/// Storage page's "Try again"): each becomes a new local change. Returns the records
/// written, like `write`.
#[wasm_bindgen]
pub async fn retry_set_aside() -> Result<String, JsValue> {
    let store = store()?;
    let mut written = Vec::new();
    for item in store.set_aside().await.map_err(js_err)? {
        let record = store.retry_set_aside(&item).await.map_err(js_err)?;
        written.push(record_json(&record));
    }
    Ok(text(json!(written)))
}

fn main() {}
