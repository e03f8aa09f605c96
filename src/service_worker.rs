//! Registration of the service worker (`sw.js`, the loader of the Rust worker in `sw/`).

use wasm_bindgen_futures::JsFuture;

/// Registers `/sw.js` for the whole origin. Browsers without service workers (or pages
/// not served over a secure context) simply run without offline support.
pub fn register() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    if !js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false) {
        gloo::console::warn!("Service workers are unavailable: Cairn will not work offline.");
        return;
    }
    let promise = navigator.service_worker().register("/sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(err) = JsFuture::from(promise).await {
            gloo::console::error!("Registering the service worker failed:", err);
        }
    });
}
