//! Registering a service worker, and asking it for a Background Sync.

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

/// Registers the service worker script at `script_url` (e.g. `"/sw.js"`, for the whole
/// origin). Browsers without service workers (or pages not served over a secure context)
/// simply run without offline support, with a warning in the console. Returns at once.
///
/// ```no_run
/// cairn_yew::register_service_worker("/sw.js");
/// ```
pub fn register_service_worker(script_url: &str) {
    let Some(container) = container() else {
        gloo::console::warn!("Service workers are unavailable: the app will not work offline.");
        return;
    };
    let promise = container.register(script_url);
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(err) = JsFuture::from(promise).await {
            gloo::console::error!("Registering the service worker failed:", err);
        }
    });
}

/// Asks the browser to wake the service worker with a `sync` event tagged `tag` once it
/// is online, even if this page has closed by then. Returns at once; where the
/// Background Sync API is missing (Firefox, Safari) it does nothing, and the page's own
/// triggers cover it. [`SyncProvider`](crate::SyncProvider) calls it after each local
/// change when given a `background_sync_tag`.
///
/// ```no_run
/// cairn_yew::request_background_sync("my-app-sync");
/// ```
pub fn request_background_sync(tag: &str) {
    let Some(container) = container() else { return };
    let Ok(ready) = container.ready() else { return };
    let tag = tag.to_owned();
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
            if let Ok(promise) = register.call1(&sync, &tag.as_str().into()) {
                if let Ok(promise) = promise.dyn_into::<js_sys::Promise>() {
                    // Refused where the user or browser disallows it: the page still syncs.
                    let _ = JsFuture::from(promise).await;
                }
            }
        }
    });
}
