//! Cairn's service worker, in Rust.
//!
//! `sw.js` (the loader, beside this crate) registers every event listener synchronously
//! when the worker starts and hands each event to the handlers exported here once the
//! wasm module is initialised. The handlers return promises that the loader passes to
//! `event.waitUntil` / `event.respondWith`.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, Response, ServiceWorkerGlobalScope};

fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// `activate`: take control of the app's open pages right away, so a page opened before
/// the worker first installed is served by it too.
#[wasm_bindgen]
pub async fn on_activate() -> Result<(), JsValue> {
    JsFuture::from(scope().clients().claim()).await?;
    Ok(())
}

/// `fetch` (same-origin GET requests): answered from the network.
#[wasm_bindgen]
pub async fn on_fetch(request: Request) -> Result<Response, JsValue> {
    let response = JsFuture::from(scope().fetch_with_request(&request)).await?;
    Ok(response.unchecked_into())
}

/// Trunk's worker pipeline builds a bin; the work happens in the exported handlers.
fn main() {}
