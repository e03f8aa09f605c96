//! Registration of the service worker (`sw.js`, the loader of the Rust worker in `sw/`).

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::ServiceWorkerContainer;

/// `navigator.serviceWorker`, where the browser has it (and the page is a secure context).
pub(crate) fn container() -> Option<ServiceWorkerContainer> {
    let navigator = web_sys::window()?.navigator();
    js_sys::Reflect::has(&navigator, &"serviceWorker".into())
        .unwrap_or(false)
        .then(|| navigator.service_worker())
}

/// Registers `/sw.js` for the whole origin. Browsers without service workers (or pages
/// not served over a secure context) simply run without offline support.
pub fn register() {
    let Some(container) = container() else {
        gloo::console::warn!("Service workers are unavailable: Cairn will not work offline.");
        return;
    };
    let promise = container.register("/sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(err) = JsFuture::from(promise).await {
            gloo::console::error!("Registering the service worker failed:", err);
        }
    });
}

/// The Background Sync tag the worker's `sync` handler answers (see `sw/`).
pub const SYNC_TAG: &str = "cairn-sync";

/// Asks the browser to wake the service worker for a sync round once it is online, even
/// if this page has closed by then. Returns at once; where the Background Sync API is
/// missing (Firefox, Safari) it does nothing, and the page's own triggers cover it.
pub fn request_background_sync() {
    let Some(container) = container() else { return };
    let Ok(ready) = container.ready() else { return };
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(registration) = JsFuture::from(ready).await else {
            return;
        };
        let Ok(sync) = js_sys::Reflect::get(&registration, &"sync".into()) else {
            return;
        };
        if sync.is_undefined() {
            return;
        }
        let register = js_sys::Reflect::get(&sync, &"register".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(register) = register {
            if let Ok(promise) = register.call1(&sync, &SYNC_TAG.into()) {
                if let Ok(promise) = promise.dyn_into::<js_sys::Promise>() {
                    // Refused where the user or browser disallows it: the page still syncs.
                    let _ = JsFuture::from(promise).await;
                }
            }
        }
    });
}
