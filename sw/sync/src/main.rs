//! The service worker's sync module: one round of the app's sync engine.
//!
//! It is a wasm module of its own, apart from the worker's start-up module (`sw_wasm`,
//! in `sw/`): the store and the sync engine are most of the worker's code, and a worker
//! woken to answer a navigation should not have to compile them first. The loader
//! (`sw/sw.js`) imports this module's glue with the rest at start-up and instantiates the
//! wasm only when a sync runs: for the `sync` event (Background Sync, tag `cairn-sync`,
//! registered by the page after each local change) or, where the browser has no
//! Background Sync, once after each worker start.
//!
//! The round is the page's own engine (`cairn_client::SyncEngine`), under the same Web Lock,
//! and its outcome reaches open pages on the engine's BroadcastChannel.

use cairn_client::{Store, SyncEngine, SyncError};
use wasm_bindgen::prelude::*;

/// `sync`: one sync round for the app's store. Resolves when there was nothing to do or
/// the round succeeded (or no one is signed in: retrying would not help); rejects when it
/// failed, so the browser tries again later.
#[wasm_bindgen]
pub async fn on_sync() -> Result<(), JsValue> {
    let store = Store::open(Store::APP_DB)
        .await
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
    let result = SyncEngine::new(&store, "").sync_once().await;
    // Closing the store now (by dropping it) keeps it from blocking a page's upgrade.
    drop(store);
    match result {
        Ok(_) | Err(SyncError::SignedOut | SyncError::Unauthorized) => Ok(()),
        Err(err) => Err(JsValue::from_str(&err.to_string())),
    }
}

/// Trunk's worker pipeline builds a bin; the work happens in the exported handler.
fn main() {}
