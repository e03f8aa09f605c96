//! Cairn's service worker, in Rust: the offline app shell.
//!
//! `sw.js` (the loader, beside this crate) registers every event listener synchronously
//! when the worker starts and hands each event to the handlers exported here once the
//! wasm module is initialised. The handlers return promises that the loader passes to
//! `event.waitUntil` / `event.respondWith`.
//!
//! Caching: every file of a build is cached at install in `cairn-<build version>` (the
//! precache manifest is written into `sw.js` by `cargo xtask build`); activate deletes the
//! caches of other versions. Requests:
//! - `/api/…`: always the network, never cached;
//! - navigations: the network first, falling back to the cached `index.html` after an
//!   error or [`NAVIGATION_TIMEOUT_MS`], so the app (and its client-side routes) opens
//!   offline;
//! - everything else: the cache first, then the network.
//!
//! This is the worker's start-up module: all it needs to install, activate and answer
//! requests, and nothing else, so a worker woken by a navigation answers after compiling
//! a small module. Sync lives in a module of its own (`sw/sync/`, `sw_sync`), which the
//! loader instantiates only when a sync runs.

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Request, RequestMode, Response, ServiceWorkerGlobalScope};

/// How long a navigation waits for the network before the cached app is served.
pub const NAVIGATION_TIMEOUT_MS: i32 = 3000;
const CACHE_PREFIX: &str = "cairn-";
const APP_SHELL: &str = "/index.html";

fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

async fn open_cache(name: &str) -> Result<Cache, JsValue> {
    Ok(JsFuture::from(scope().caches()?.open(name))
        .await?
        .unchecked_into())
}

/// `install`: caches every URL of this build (`cache` is empty for a build without a
/// precache manifest).
#[wasm_bindgen]
pub async fn on_install(cache: String, urls: Vec<String>) -> Result<(), JsValue> {
    if cache.is_empty() {
        return Ok(());
    }
    let urls: Array = urls.into_iter().map(JsValue::from).collect();
    JsFuture::from(open_cache(&cache).await?.add_all_with_str_sequence(&urls)).await?;
    Ok(())
}

/// `activate`: deletes Cairn caches of other versions and takes control of the app's open
/// pages, so a page opened before the worker first installed is served by it too.
#[wasm_bindgen]
pub async fn on_activate(cache: String) -> Result<(), JsValue> {
    let caches = scope().caches()?;
    let names: Array = JsFuture::from(caches.keys()).await?.unchecked_into();
    for name in names.iter().filter_map(|n| n.as_string()) {
        if name.starts_with(CACHE_PREFIX) && name != cache {
            JsFuture::from(caches.delete(&name)).await?;
        }
    }
    JsFuture::from(scope().clients().claim()).await?;
    Ok(())
}

/// `fetch` (same-origin GET requests): see the module docs for the strategy.
#[wasm_bindgen]
pub async fn on_fetch(request: Request, cache: String) -> Result<Response, JsValue> {
    let path = web_sys::Url::new(&request.url())?.pathname();
    if cache.is_empty() || path.starts_with("/api/") {
        return network(&request).await;
    }
    let cache = open_cache(&cache).await?;
    if request.mode() == RequestMode::Navigate {
        if let Some(response) = network_within(&request, NAVIGATION_TIMEOUT_MS).await {
            return Ok(response);
        }
        return match cached(&cache, APP_SHELL).await? {
            Some(shell) => Ok(shell),
            None => network(&request).await,
        };
    }
    match JsFuture::from(cache.match_with_request(&request)).await? {
        hit if hit.is_instance_of::<Response>() => Ok(hit.unchecked_into()),
        _ => network(&request).await,
    }
}

async fn network(request: &Request) -> Result<Response, JsValue> {
    Ok(JsFuture::from(scope().fetch_with_request(request))
        .await?
        .unchecked_into())
}

/// The network's response, or `None` after an error or `timeout_ms`.
async fn network_within(request: &Request, timeout_ms: i32) -> Option<Response> {
    let timeout = Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, timeout_ms);
    });
    let fetched = scope().fetch_with_request(request);
    let first = Promise::race(&Array::of2(&fetched, &timeout));
    JsFuture::from(first)
        .await
        .ok()?
        .dyn_into::<Response>()
        .ok()
}

async fn cached(cache: &Cache, url: &str) -> Result<Option<Response>, JsValue> {
    let hit = JsFuture::from(cache.match_with_str(url)).await?;
    Ok(hit.dyn_into::<Response>().ok())
}

/// Trunk's worker pipeline builds a bin; the work happens in the exported handlers.
fn main() {}
