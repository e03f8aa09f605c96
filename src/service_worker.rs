//! Registration of the service worker (`sw.js`, the loader of the Rust worker in `sw/`).

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
